"""The examples in `examples/` run as a user would run them: as scripts, against a real
`memstrata serve`, the model behind an OpenAI-compatible stand-in on 127.0.0.1."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.openai_standin import StandIn, chat
from tests.openai_standin import serve as serve_standin
from tests.services import Serve

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


async def run(script: str, *args: str, env: dict[str, str]) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(EXAMPLES / script), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def test_the_agents_example_keeps_the_conversation_in_memstrata(
    serve: Serve, fresh_database: str
) -> None:
    service, key = await serve(fresh_database)
    standin = StandIn(script=[chat("Nice to meet you, Alice!"), chat("You live in Porto.")])
    with serve_standin(standin) as llm:
        env = {
            "MEMSTRATA_URL": service.url,
            "MEMSTRATA_API_KEY": key,
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "stand-in",
            "MODEL": "stand-in",
        }
        said = await run(
            "agents_assistant.py",
            "alice",
            "Hi, I'm Alice and I live in Porto.",
            "Where do I live?",
            env=env,
        )
    assert "assistant: Nice to meet you, Alice!" in said
    assert "assistant: You live in Porto." in said
    (_, second) = standin.requests[-1]
    assert "I live in Porto" in str(second["messages"]), "the first turn came back from memstrata"


async def test_the_mcp_example_remembers_and_recalls(serve: Serve, fresh_database: str) -> None:
    service, key = await serve(fresh_database)
    env = {"MEMSTRATA_URL": service.url, "MEMSTRATA_API_KEY": key}
    said = await run(
        "mcp_client.py",
        "alice",
        "I'm allergic to peanuts.",
        "What am I allergic to?",
        env=env,
    )
    assert "tools:" in said and "recall" in said
    assert "recalled (raw): I'm allergic to peanuts." in said
