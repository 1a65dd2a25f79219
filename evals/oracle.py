"""The LoCoMo eval's oracle extractor: a local OpenAI-compatible HTTP server that memstrata's
own LLM path (the `LLMExtractor`, the session summary, synthesis) talks to through the real
`openai` SDK, and whose answers are the dataset's own observation annotations for the turns
in the prompt. It measures the upper bound of extraction (what the rest of the machinery
makes of perfect observations), never memstrata's extraction; this module is the only
reader of the annotations."""

import json
import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from evals.locomo_data import normalise_evidence
from reflection.prompts import extraction, summary, synthesis

MODEL = "oracle"
LABEL = (
    "oracle: the dataset's own observations served as the LLM's answers "
    "(an upper bound for extraction quality, not memstrata's extraction)"
)

# One message of the rendered extraction prompt: `[seq] role (YYYY-MM-DD HH:MM): content`;
# lines that do not start so continue the message before them (content with newlines).
_LINE = re.compile(r"\[(\d+)\] (user|assistant|system|tool) \((\d{4}-\d\d-\d\d \d\d:\d\d)\): ")
_STAMP = "%Y-%m-%d %H:%M"  # as `extraction.render` writes a message's time
# The summary prompt lists the facts already extracted after the transcript, under this.
SUMMARY_FACTS = "\n\nFacts:\n"
SUMMARY_MAX_CHARS = 4000  # the summary prompt's limit on its text

Turn = tuple[str, str]  # (sample id, dia id): dia ids repeat across conversations


@dataclass(frozen=True)
class Observation:
    text: str
    evidence: tuple[str, ...]  # dia ids of the turns it rests on


def load_observations(path: Path) -> dict[str, list[Observation]]:
    """Every sample's observations (`observation.session_N_observation.<speaker>`, each
    `[text, dia id or ids]`), their evidence ids normalised as the questions' are."""
    found: dict[str, list[Observation]] = {}
    for sample in json.loads(path.read_text()):
        conv = sample["conversation"]
        known = {
            turn["dia_id"]
            for key, turns in conv.items()
            if key.startswith("session_") and isinstance(turns, list)
            for turn in turns
        }
        observations = []
        for by_speaker in (sample.get("observation") or {}).values():
            for entries in by_speaker.values():
                for text, ids in entries:
                    raw = ids if isinstance(ids, list) else [ids]
                    evidence, _ = normalise_evidence(raw, known)
                    if evidence:
                        observations.append(Observation(text, evidence))
        found[sample["sample_id"]] = observations
    return found


@dataclass
class Stats:
    """What the oracle was asked and what it answered."""

    extraction_requests: int = 0
    summary_requests: int = 0
    synthesis_requests: int = 0
    refused_requests: int = 0
    prompt_messages: int = 0
    unmatched_messages: int = 0
    facts_served: int = 0


class Oracle:
    """Knows which stored message is which LoCoMo turn (`register`, called by the replay
    for every message it appends) and answers every prompt of the LLM path from the
    observations of the turns it shows: extraction with one observation per fact, a
    session's summary with its observations, synthesis with no insights (the annotations
    hold none). The server's threads and the replay share it, hence the lock."""

    def __init__(self, observations: Mapping[str, Sequence[Observation]]) -> None:
        self.stats = Stats()
        self._lock = threading.Lock()
        self._turns: dict[tuple[str, str], Turn] = {}
        self._by_content: dict[str, list[Turn]] = defaultdict(list)
        self._by_turn: dict[Turn, list[Observation]] = defaultdict(list)
        for sample_id, found in observations.items():
            for observation in found:
                for dia_id in observation.evidence:
                    self._by_turn[(sample_id, dia_id)].append(observation)

    def register(self, sample_id: str, dia_id: str, content: str, created_at: datetime) -> None:
        """The stored message `content`, written at `created_at`, is this turn."""
        with self._lock:
            self._turns[(f"{created_at:{_STAMP}}", content)] = (sample_id, dia_id)
            self._by_content[content].append((sample_id, dia_id))

    def answer(self, system: str, user: str) -> dict[str, Any] | None:
        """The JSON answer to one chat prompt; None when it has none to give (a prompt it
        does not know, a session without observations to summarise)."""
        with self._lock:
            if system == extraction.SYSTEM:
                self.stats.extraction_requests += 1
                facts = [_fact(o, seqs) for o, seqs in self._observed(user)]
                self.stats.facts_served += len(facts)
                return {"facts": facts}
            if system == summary.SYSTEM:
                self.stats.summary_requests += 1
                # The transcript comes first, then the facts already extracted.
                transcript = user.rpartition(SUMMARY_FACTS)[0] or user
                answer = _summary([o for o, _ in self._observed(transcript)])
            elif system == synthesis.SYSTEM:
                self.stats.synthesis_requests += 1
                answer = {"insights": []}
            else:
                answer = None
            self.stats.refused_requests += answer is None
            return answer

    def _turn(self, stamp: str, content: str) -> Turn | None:
        """By time and exact content; by content alone when that names one turn."""
        turn = self._turns.get((stamp, content))
        if turn is None and len(self._by_content.get(content, ())) == 1:
            turn = self._by_content[content][0]
        return turn

    def _observed(self, prompt: str) -> list[tuple[Observation, list[int]]]:
        """Every observation resting on a turn the prompt shows, in turn order, with the
        seqs of its evidence turns among them."""
        seqs: dict[Turn, int] = {}
        for seq, stamp, content in parse(prompt):
            self.stats.prompt_messages += 1
            turn = self._turn(stamp, content)
            if turn is None:
                self.stats.unmatched_messages += 1
            else:
                seqs[turn] = seq
        found: dict[Observation, list[int]] = {}
        for sample_id, dia_id in sorted(seqs, key=seqs.__getitem__):
            for observation in self._by_turn.get((sample_id, dia_id), ()):
                if observation not in found:
                    cited = (seqs.get((sample_id, d)) for d in observation.evidence)
                    found[observation] = sorted(s for s in cited if s is not None)
        return list(found.items())


def _fact(observation: Observation, seqs: list[int]) -> dict[str, Any]:
    return {
        "kind": "observation",
        "text": observation.text,
        "attribute": None,
        "importance": 0.5,
        "confidence": 1.0,
        "source_seqs": seqs,
    }


def _summary(observations: list[Observation]) -> dict[str, Any] | None:
    """The session's observations as its summary, as many whole ones as fit; topics,
    decisions and open loops are left to the worker (the annotations have none)."""
    text = ""
    for observation in observations:
        longer = f"{text} {observation.text}".strip()
        if len(longer) > SUMMARY_MAX_CHARS:
            break
        text = longer
    if not text:
        return None
    return {"text": text, "topics": [], "decisions": [], "open_loops": []}


def parse(prompt: str) -> list[tuple[int, str, str]]:
    """(seq, time, content) of every message of a rendered extraction prompt."""
    messages: list[tuple[int, str, str]] = []
    for line in prompt.split("\n"):
        match = _LINE.match(line)
        if match:
            messages.append((int(match[1]), match[3], line[match.end() :]))
        elif messages:
            seq, stamp, content = messages[-1]
            messages[-1] = (seq, stamp, f"{content}\n{line}")
    return messages


def completion(content: str) -> dict[str, Any]:
    """A chat completion as the SDK expects it; the oracle spends no tokens."""
    return {
        "id": "chatcmpl-oracle",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _reply(oracle: Oracle, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if not path.endswith("/chat/completions"):
        return 404, {"error": {"message": f"the oracle only answers chat completions: {path}"}}
    roles = {m.get("role"): m.get("content") or "" for m in payload.get("messages", [])}
    answer = oracle.answer(roles.get("system", ""), roles.get("user", ""))
    if answer is None:
        return 400, {"error": {"message": "the oracle knows only the extraction prompt"}}
    return 200, completion(json.dumps(answer))


def _handler(oracle: Oracle) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            status, body = _reply(oracle, self.path, json.loads(self.rfile.read(length) or b"{}"))
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: object) -> None:
            return

    return Handler


@contextmanager
def serve(oracle: Oracle) -> Iterator[str]:
    """Serve `oracle` on 127.0.0.1 (a free port) in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(oracle))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
