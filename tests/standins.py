"""Loopback stand-ins for the agents' cloud APIs: the real CLIs talk to these in the tests.

Each stand-in is a threaded HTTP server on 127.0.0.1, port 0, living for a
``with`` block.  It decides only what the "model" answers; the CLI itself
runs the tools and writes its stream.  ``python tests/standins.py KIND MODE``
serves one on a fixed port for capturing fixtures by hand.
"""

from __future__ import annotations

import http.server
import itertools
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

# Shell commands the scripted model asks for, one per tool round; each prints a marker.
COMMANDS = ("echo first-marker && uname -s", "echo second-marker && expr 6 '*' 7")
# With WRITE in the prompt, the second one writes a file: without permission, Claude refuses it.
WRITE_COMMANDS = (COMMANDS[0], "echo denied > made-by-agent.txt")
FINAL_TEXT = "All done."
# One JSON answer for every side question the Gemini CLI asks (model routing, next speaker).
SIDE_ANSWER = {
    "complexity_reasoning": "a simple task",
    "complexity_score": 1,
    "reasoning": "done",
    "model_choice": "flash",
    "next_speaker": "user",
}


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


class Handler(http.server.BaseHTTPRequestHandler):
    """What every stand-in shares: the request log, JSON and SSE replies, scripted failures."""

    protocol_version = "HTTP/1.1"
    # Set per server: "tools" (two shell calls, then an answer), "unauthorized"
    # (401 always), "overloaded" (529 always), "flaky" (two 529s, then "tools").
    mode: ClassVar[str] = "tools"

    def log_message(self, *args: object) -> None:
        pass

    @property
    def state(self) -> StandIn:
        server: Any = self.server
        standin: StandIn = server.standin
        return standin

    def reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply_sse(self, chunks: list[bytes]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()
        self.wfile.write(b"".join(chunks))
        self.wfile.flush()
        self.close_connection = True

    def read_body(self) -> dict[str, Any]:
        size = int(self.headers.get("content-length", 0))
        try:
            body = json.loads(self.rfile.read(size) or b"{}")
        except ValueError:
            body = {}
        return body if isinstance(body, dict) else {}

    def failure(self) -> int | None:
        """The HTTP status this request fails with, when the mode says so."""
        n = self.state.count_failure_candidate()
        if self.mode == "unauthorized":
            return 401
        if self.mode == "overloaded" or (self.mode == "flaky" and n <= 2):
            return 529
        return None

    def do_GET(self) -> None:
        self.state.log("GET", self.path, {})
        self.reply(200, b"{}")

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()


# -- Anthropic Messages API (Claude Code) ------------------------------------------


class MessagesHandler(Handler):
    """``POST /v1/messages``: streamed replies; Bash calls, or a subagent for ``SUBAGENT``."""

    def do_POST(self) -> None:
        req = self.read_body()
        self.state.log("POST", self.path, req)
        if "count_tokens" in self.path:
            self.reply(200, json.dumps({"input_tokens": 10}).encode())
            return
        if not req.get("stream"):
            self.reply(200, json.dumps(self.message([("text", "ok")], "end_turn")).encode())
            return
        status = self.failure()
        if status is not None:
            kind = {401: "authentication_error", 529: "overloaded_error"}[status]
            error = {"type": "error", "error": {"type": kind, "message": f"stand-in: {kind}"}}
            self.reply(status, json.dumps(error).encode())
            return
        plan, stop = self.plan(req)
        self.reply_sse(self.stream(plan, stop))

    def plan(self, req: dict[str, Any]) -> tuple[list[tuple[Any, ...]], str]:
        msgs = req.get("messages", [])
        tools = {t.get("name") for t in req.get("tools", []) if isinstance(t, dict)}
        text = json.dumps(msgs)
        rounds = text.count('"tool_result"')
        agent_tool = "Agent" if "Agent" in tools else "Task" if "Task" in tools else None
        if "SUBAGENT" in text and agent_tool and "from-subagent" not in text and not rounds:
            task = {
                "description": "look around",
                "prompt": "Run echo from-subagent",
                "subagent_type": "general-purpose",
            }
            return [("text", "I will delegate."), ("tool_use", agent_tool, task)], "tool_use"
        if "from-subagent" in text and "Bash" in tools and not rounds:
            return [("tool_use", "Bash", {"command": "echo from-subagent"})], "tool_use"
        commands = WRITE_COMMANDS if "WRITE" in text else COMMANDS
        if "Bash" in tools and rounds < len(commands) and "SUBAGENT" not in text:
            command = {"command": commands[rounds], "description": f"step {rounds + 1}"}
            return [("text", "Let me run it."), ("tool_use", "Bash", command)], "tool_use"
        return [("text", FINAL_TEXT)], "end_turn"

    def message(self, content: list[tuple[Any, ...]], stop: str | None) -> dict[str, Any]:
        i = self.state.next_id()
        blocks = [{"type": "text", "text": c[1]} for c in content]
        return {
            "id": f"msg_standin{i:04d}",
            "type": "message",
            "role": "assistant",
            "model": "claude-standin",
            "content": blocks,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 100 + i,
                "output_tokens": 10 + i,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
            },
        }

    def stream(self, plan: list[tuple[Any, ...]], stop: str) -> list[bytes]:
        start = self.message([], None)
        out = [sse({"type": "message_start", "message": start}, "message_start")]
        for idx, step in enumerate(plan):
            if step[0] == "text":
                block: dict[str, Any] = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": step[1]}
            else:
                tool_id = f"toolu_standin{start['id'][-4:]}_{idx}"
                block = {"type": "tool_use", "id": tool_id, "name": step[1], "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(step[2])}
            head = {"type": "content_block_start", "index": idx, "content_block": block}
            out.append(sse(head, "content_block_start"))
            body = {"type": "content_block_delta", "index": idx, "delta": delta}
            out.append(sse(body, "content_block_delta"))
            out.append(sse({"type": "content_block_stop", "index": idx}, "content_block_stop"))
        usage = {"output_tokens": start["usage"]["output_tokens"]}
        end = {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": usage}
        out.append(sse(end, "message_delta"))
        out.append(sse({"type": "message_stop"}, "message_stop"))
        return out


# -- Gemini API (Gemini CLI) --------------------------------------------------------


class GeminiHandler(Handler):
    """``…:generateContent`` and ``…:streamGenerateContent?alt=sse``: shell calls, then text."""

    def do_POST(self) -> None:
        req = self.read_body()
        self.state.log("POST", self.path, req)
        if ":countTokens" in self.path:
            self.reply(200, b'{"totalTokens": 10}')
            return
        status = self.failure()
        if status is not None:
            message, word = {
                401: ("API key not valid. Please pass a valid API key.", "UNAUTHENTICATED"),
                529: ("The model is overloaded. Please try again later.", "UNAVAILABLE"),
            }[status]
            error = {"error": {"code": status, "message": message, "status": word}}
            self.reply(status, json.dumps(error).encode())
            return
        if ":streamGenerateContent" in self.path:
            self.reply_sse([sse(self.answer(req))])
        else:
            self.reply(200, json.dumps(self.answer(req)).encode())

    def answer(self, req: dict[str, Any]) -> dict[str, Any]:
        contents = req.get("contents", [])
        text = json.dumps(contents)
        rounds = text.count('"functionResponse"')
        shell = self.shell_tool(req)
        config = req.get("generationConfig") or {}
        if config.get("responseMimeType") == "application/json" or shell is None:
            # The CLI's own side questions (routing, next speaker): a JSON answer.
            parts = [{"text": json.dumps(SIDE_ANSWER)}]
        elif rounds < len(COMMANDS):
            call = {"name": shell, "args": {"command": COMMANDS[rounds]}}
            parts = [{"text": "Let me run it."}, {"functionCall": call}]
        else:
            parts = [{"text": FINAL_TEXT}]
        i = self.state.next_id()
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": 100 + i,
                "candidatesTokenCount": 10 + i,
                "totalTokenCount": 110 + 2 * i,
            },
            "modelVersion": "gemini-standin",
            "responseId": f"resp-{i}",
        }

    @staticmethod
    def shell_tool(req: dict[str, Any]) -> str | None:
        for tool in req.get("tools") or []:
            for decl in tool.get("functionDeclarations") or [] if isinstance(tool, dict) else []:
                name = decl.get("name") if isinstance(decl, dict) else None
                if isinstance(name, str) and "shell" in name:
                    return name
        return None


# -- the server -----------------------------------------------------------------------


class StandIn:
    """One stand-in server and what it was asked."""

    def __init__(self, handler: type[Handler], mode: str, port: int = 0) -> None:
        kind = type(f"{handler.__name__}_{mode}", (handler,), {"mode": mode})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), kind)
        self.server.daemon_threads = True
        setattr(self.server, "standin", self)  # noqa: B010 (the handler finds its state here)
        self.requests: list[tuple[str, str, dict[str, Any]]] = []
        self._ids = itertools.count(1)
        self._failures = itertools.count(1)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def log(self, method: str, path: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append((method, path, body))

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def count_failure_candidate(self) -> int:
        with self._lock:
            return next(self._failures)


@contextmanager
def serving(handler: type[Handler], mode: str = "tools", port: int = 0) -> Iterator[StandIn]:
    """A stand-in answering on 127.0.0.1 for the life of the block."""
    standin = StandIn(handler, mode, port)
    thread = threading.Thread(target=standin.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        standin.server.shutdown()
        standin.server.server_close()
        thread.join()


HANDLERS: dict[str, type[Handler]] = {"claude": MessagesHandler, "gemini": GeminiHandler}

if __name__ == "__main__":
    with serving(HANDLERS[sys.argv[1]], sys.argv[2], int(sys.argv[3])) as s:
        print(s.url, flush=True)
        threading.Event().wait()
