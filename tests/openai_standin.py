"""A stand-in for an OpenAI-compatible endpoint: a real HTTP server on 127.0.0.1 that the
real `openai` SDK talks to. Scripted replies (status, body, delay) are served first, in
order; with none left, `/embeddings` answers with deterministic vectors."""

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # a JSON value, or a str sent as is (for malformed JSON)
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StandIn:
    dim: int = 8
    script: list[Reply] = field(default_factory=list)
    requests: list[tuple[str, Any]] = field(default_factory=list)
    base_url: str = ""

    def vector(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(self.dim)]

    def answer(self, path: str, payload: Any) -> Reply:
        self.requests.append((path, payload))
        if self.script:
            return self.script.pop(0)
        if path.endswith("/embeddings"):
            data = [
                {"object": "embedding", "index": i, "embedding": self.vector(t)}
                for i, t in enumerate(payload["input"])
            ]
            return Reply(
                body={
                    "object": "list",
                    "data": data,
                    "model": payload["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                }
            )
        if path.endswith("/chat/completions"):
            return chat('{"facts": []}')
        return Reply(status=404, body={"error": {"message": f"no route {path}"}})


def chat(content: str, prompt_tokens: int = 50, completion_tokens: int = 20) -> Reply:
    """A chat completion whose message is `content` (valid JSON or not)."""
    return Reply(
        body={
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": "stand-in",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def _handler(standin: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            reply = standin.answer(self.path, json.loads(self.rfile.read(length) or b"{}"))
            time.sleep(reply.delay_s)
            if reply.status == 0:  # hang up without answering
                return
            raw = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            self.send_response(reply.status)
            self.send_header("content-type", "application/json")
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(raw.encode())))
            self.end_headers()
            self.wfile.write(raw.encode())

        def log_message(self, *args: object) -> None:
            return

    return Handler


@contextmanager
def serve(standin: StandIn) -> Iterator[StandIn]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(standin))
    standin.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
