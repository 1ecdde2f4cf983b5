"""Loopback stand-ins for the agents' cloud APIs: the real CLIs talk to these in the tests.

``StandIn`` is a threaded HTTP server on 127.0.0.1 (port 0) that hands each
request to a ``reply`` function and keeps what was asked; ``responses_api``
is such a function for OpenAI's Responses API (``POST /v1/responses``, as
server-sent events), the one Codex and Copilot CLI speak.  The "model" it
plays asks for a shell command per round, one from ``commands``, then
answers in text; the CLI runs the commands itself.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import Traced, clean_env

FINAL_TEXT = "Both commands ran."
PROMPT = "run echo one, then ls"
UNAUTHORIZED = {
    "error": {
        "message": "Incorrect API key provided: fake.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}


@dataclass
class Reply:
    """What the stand-in answers: a status, a content type, a body."""

    status: int
    body: bytes
    content_type: str = "application/json"


@dataclass
class Request:
    """One request the stand-in received: method, path and the JSON body (or None)."""

    method: str
    path: str
    body: Any


Responder = Callable[[Request], Reply]


@dataclass
class StandIn:
    """A running stand-in: its base URL and the requests it has received."""

    port: int
    requests: list[Request] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def posts(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and r.path == path]


def _handler(
    respond: Responder, requests: list[Request]
) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, method: str) -> None:
            size = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(size) if size else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            request = Request(method, self.path.split("?", 1)[0], body)
            requests.append(request)
            reply = respond(request)
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

    return Handler


@contextmanager
def stand_in(respond: Responder) -> Iterator[StandIn]:
    """Serve ``respond`` on a free loopback port for the life of the block."""
    requests: list[Request] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(respond, requests))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandIn(server.server_address[1], requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- the Responses API -------------------------------------------------------------


def _sse(events: list[dict[str, Any]]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def _tool_arguments(tools: Sequence[str], command: str) -> tuple[str, dict[str, Any]]:
    """The shell tool the CLI offers and its arguments for ``command``."""
    if "exec_command" in tools:  # Codex
        return "exec_command", {"cmd": command}
    if "shell" in tools:
        return "shell", {"command": ["bash", "-lc", command]}
    for name in ("bash", "powershell"):  # Copilot CLI
        if name in tools:
            return name, {"command": command, "description": f"run {command}"}
    raise AssertionError(f"no shell tool among {list(tools)}")


def _outputs_given(body: dict[str, Any]) -> int:
    """How many tool results the CLI has sent back: the rounds done so far."""
    items = body.get("input")
    if not isinstance(items, list):
        return 0
    return sum(
        1 for item in items if isinstance(item, dict) and item.get("type") == "function_call_output"
    )


def responses_api(commands: Sequence[str], status: int = 200) -> Responder:
    """A Responses-API "model" that runs ``commands`` one per round, then says it is done.

    ``status`` other than 200: every request fails with it (401: a bad key).
    """
    counter = itertools.count(1)

    def respond(request: Request) -> Reply:
        if status != 200:
            return Reply(status, json.dumps(UNAUTHORIZED).encode())
        if request.method != "POST" or not request.path.endswith("/responses"):
            return Reply(404, b'{"error": {"message": "not here"}}')
        body = request.body if isinstance(request.body, dict) else {}
        n = next(counter)
        done = _outputs_given(body)
        tools = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        if done < len(commands):
            name, arguments = _tool_arguments(tools, commands[done])
            item: dict[str, Any] = {
                "type": "function_call",
                "id": f"fc_{n}",
                "call_id": f"call_{n}",
                "name": name,
                "arguments": json.dumps(arguments),
                "status": "completed",
            }
        else:
            item = {
                "type": "message",
                "id": f"msg_{n}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": FINAL_TEXT, "annotations": []}],
            }
        return Reply(200, _sse(_response_events(n, body.get("model"), item)), "text/event-stream")

    return respond


def _response_events(n: int, model: object, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The server-sent events of one response that holds the single output ``item``."""
    response: dict[str, Any] = {
        "id": f"resp_{n}",
        "object": "response",
        "created_at": 1_790_000_000 + n,
        "model": model,
        "status": "in_progress",
        "output": [],
    }
    events: list[dict[str, Any]] = [
        {"type": "response.created", "sequence_number": 0, "response": response},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**item, "status": "in_progress"},
        },
    ]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        events.append(
            {
                "type": "response.output_text.delta",
                "item_id": item["id"],
                "output_index": 0,
                "content_index": 0,
                "delta": text,
            }
        )
    events.append({"type": "response.output_item.done", "output_index": 0, "item": item})
    usage = {
        "input_tokens": 1000 + n,
        "input_tokens_details": {"cached_tokens": 100},
        "output_tokens": 10 + n,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 1010 + 2 * n,
    }
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    events.append({"type": "response.completed", "response": done})
    for i, event in enumerate(events):
        event["sequence_number"] = i
    return events


# -- the CLIs that speak it ----------------------------------------------------------


def codex_argv(url: str, prompt: str) -> list[str]:
    """``codex exec --json`` against the stand-in at ``url``, running commands unsandboxed."""
    provider = f'model_providers.fake={{name="fake", base_url="{url}/v1", wire_api="responses"}}'
    return [
        "codex", "exec", "--json", "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "-c", provider, "-c", "model_provider=fake", "-m", "fake-model", prompt,
    ]  # fmt: skip


def copilot_argv(prompt: str) -> list[str]:
    """``copilot -p`` with its JSON stream, its tools allowed to run unasked."""
    return ["copilot", "-p", prompt, "--output-format", "json", "--allow-all-tools"]


def copilot_env(url: str) -> dict[str, str]:
    """The environment that points Copilot CLI at the stand-in at ``url``, offline."""
    return {
        "COPILOT_OFFLINE": "true",
        "COPILOT_PROVIDER_BASE_URL": f"{url}/v1",
        "COPILOT_PROVIDER_WIRE_API": "responses",
        "COPILOT_MODEL": "fake-model",
    }


def agent_env(tmp: Path, **extra: str) -> tuple[dict[str, str], Path]:
    """A clean environment whose home (and CODEX_HOME) is a fresh folder, and a work folder."""
    home = tmp / "agent-home"
    work = tmp / "work"
    home.mkdir()
    work.mkdir()
    (work / "a.txt").write_text("x\n")
    return clean_env(tmp, HOME=str(home), CODEX_HOME=str(home), **extra), work


def stream_of(traced: Traced) -> list[dict[str, Any]]:
    """The JSON lines the agent printed, as the wrapper passed them through."""
    lines = traced.stdout.splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]
