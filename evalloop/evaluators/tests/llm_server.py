"""A local stand-in for LLM providers, spoken to through the real `openai` and `anthropic` clients.

It answers the OpenAI chat completions API (`POST /v1/chat/completions`) and the Anthropic
messages API (`POST /v1/messages`) from a script: each request takes the next `Step`, and
once the script is used up every request gets `default`. It records every request, and the
most requests it ever had in flight at once.

    with serve(default=Step(answer={"score": 4})) as server:
        server.script(Step(status=429, retry_after=0), Step(answer={"score": 5}))
        ... Provider(base_url=server.openai_url) or Provider(base_url=server.anthropic_url)
        assert server.requests[0].body["model"] == "m"

Benchmarks use it too: `serve(default=Step(answer=..., delay_ms=200))`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Step:
    """One scripted answer: the model's JSON `answer`, or raw `text`, or an error `status`."""

    answer: Any = None
    text: str | None = None  # the model's text as is (e.g. not JSON); wins over `answer`
    status: int = 200
    error: str = "scripted failure"  # the message of an error answer
    retry_after: float | None = None  # sent as Retry-After with an error answer
    delay_ms: int = 0  # wait this long before answering
    input_tokens: int = 11
    output_tokens: int = 7
    # Computes the answer from the request's JSON body instead of `answer`.
    answer_with: Callable[[dict[str, Any]], Any] | None = None


@dataclass(frozen=True)
class Recorded:
    """A request the server received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        """The text of the last user message."""
        content = self.body["messages"][-1]["content"]
        return content if isinstance(content, str) else json.dumps(content)


@dataclass
class LLMServer:
    """The running server's address, script and records."""

    httpd: ThreadingHTTPServer
    default: Step
    steps: deque[Step] = field(default_factory=deque)
    requests: list[Recorded] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        """The base URL an OpenAI client takes."""
        return f"{self.url}/v1"

    @property
    def anthropic_url(self) -> str:
        """The base URL an Anthropic client takes."""
        return self.url

    def script(self, *steps: Step) -> None:
        """Answer the next requests with `steps`, in order, then with `default` again."""
        with self.lock:
            self.steps.extend(steps)

    def take(self, recorded: Recorded) -> Step:
        with self.lock:
            self.requests.append(recorded)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.steps.popleft() if self.steps else self.default

    def done(self) -> None:
        with self.lock:
            self.in_flight -= 1


def openai_body(step: Step, request: dict[str, Any], text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-local",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": step.input_tokens,
            "completion_tokens": step.output_tokens,
            "total_tokens": step.input_tokens + step.output_tokens,
        },
    }


def anthropic_body(step: Step, request: dict[str, Any], answer: Any) -> dict[str, Any]:
    if step.text is not None:
        content = [{"type": "text", "text": step.text}]
    else:
        tool = (request.get("tool_choice") or {}).get("name", "record_evaluation")
        content = [{"type": "tool_use", "id": "toolu_local", "name": tool, "input": answer}]
    return {
        "id": "msg_local",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", ""),
        "content": content,
        "stop_reason": "tool_use" if step.text is None else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": step.input_tokens, "output_tokens": step.output_tokens},
    }


def error_body(path: str, step: Step) -> dict[str, Any]:
    if path.endswith("/messages"):
        return {"type": "error", "error": {"type": "api_error", "message": step.error}}
    return {"error": {"message": step.error, "type": "invalid_request_error", "code": None}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers
    # Headers and body go out in two writes: with Nagle's algorithm on, the body would wait
    # for the client's delayed ACK of the headers, adding 40 ms to every answer.
    disable_nagle_algorithm = True
    server: ThreadingHTTPServer
    llm: LLMServer  # set on the subclass `serve` makes

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        step = self.llm.take(recorded)
        try:
            time.sleep(step.delay_ms / 1000)
            self.answer(step, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test)
        finally:
            self.llm.done()

    def answer(self, step: Step, request: dict[str, Any]) -> None:
        if self.path not in ("/v1/chat/completions", "/v1/messages"):
            self.send_json(404, {"error": {"message": f"no route {self.path}"}})
        elif step.status != 200:
            headers = {} if step.retry_after is None else {"Retry-After": f"{step.retry_after:g}"}
            self.send_json(step.status, error_body(self.path, step), headers)
        else:
            answer = step.answer_with(request) if step.answer_with else step.answer
            if self.path.endswith("/messages"):
                self.send_json(200, anthropic_body(step, request, answer))
            else:
                text = step.text if step.text is not None else json.dumps(answer)
                self.send_json(200, openai_body(step, request, text))

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests assert on `requests` instead


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a burst of concurrent connections must not be refused


@contextmanager
def serve(default: Step | None = None) -> Iterator[LLMServer]:
    """Run a server on a free local port for the duration of the block."""
    handler = type("ScriptedHandler", (Handler,), {})
    httpd = _Server(("127.0.0.1", 0), handler)
    llm = LLMServer(httpd=httpd, default=default or Step(answer={}))
    handler.llm = llm  # type: ignore[attr-defined]
    # A short poll interval: shutting down waits for the loop's next look.
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="llm-server", daemon=True
    )
    thread.start()
    try:
        yield llm
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
