"""A loopback stand-in for the Anthropic Messages API, so the real Claude Code CLI can run.

The CLI (``ANTHROPIC_BASE_URL=http://127.0.0.1:PORT``) sends its requests
here; the "model" answers each streamed request with the next Bash tool call
of a script, then with a final text once every call has its result.  The CLI
itself runs the tools and writes its stream-json; this only decides what
the model says.  Requests the CLI makes on the side (not streamed, token
counts) get a short text.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _tool_results(messages: list[Any]) -> int:
    """How many tool results the conversation holds: the calls already made."""
    count = 0
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            count += sum(
                1 for c in content if isinstance(c, dict) and c.get("type") == "tool_result"
            )
    return count


def _stream(number: int, model: Any, block: dict[str, Any], delta: dict[str, Any]) -> bytes:
    """One streamed message of one content block."""
    usage = {"input_tokens": 100 + number, "output_tokens": 10 + number}
    message = {
        "id": f"msg_standin{number:04d}", "type": "message", "role": "assistant",
        "model": model, "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {**usage, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
    }  # fmt: skip
    stop = "tool_use" if block["type"] == "tool_use" else "end_turn"
    return b"".join(
        [
            _sse("message_start", {"type": "message_start", "message": message}),
            _sse("content_block_start",
                 {"type": "content_block_start", "index": 0, "content_block": block}),
            _sse("content_block_delta",
                 {"type": "content_block_delta", "index": 0, "delta": delta}),
            _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _sse("message_delta", {"type": "message_delta",
                                   "delta": {"stop_reason": stop, "stop_sequence": None},
                                   "usage": {"output_tokens": usage["output_tokens"]}}),
            _sse("message_stop", {"type": "message_stop"}),
        ]
    )  # fmt: skip


def _handler(commands: Sequence[str]) -> type[BaseHTTPRequestHandler]:
    counter = iter(range(1, 1 << 30))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _json(self, value: Any) -> None:
            body = json.dumps(value).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._json({})

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            request = json.loads(self.rfile.read(length) or b"{}")
            with lock:
                number = next(counter)
            if "count_tokens" in self.path:
                self._json({"input_tokens": 10})
                return
            if not request.get("stream"):
                self._json({
                    "id": f"msg_side{number:04d}", "type": "message", "role": "assistant",
                    "model": request.get("model"), "content": [{"type": "text", "text": "ok"}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                })  # fmt: skip
                return
            done = _tool_results(request.get("messages", []))
            tools = [t.get("name") for t in request.get("tools", [])]
            if done < len(commands) and "Bash" in tools:
                block = {"type": "tool_use", "id": f"toolu_standin{number:03d}", "name": "Bash",
                         "input": {}}  # fmt: skip
                arguments = {"command": commands[done], "description": f"step {done + 1}"}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(arguments)}
            else:
                block = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": "All done."}
            body = _stream(number, request.get("model"), block, delta)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def messages_api(commands: Sequence[str]) -> Iterator[str]:
    """A stand-in serving on a loopback port while the block runs; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(commands))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
