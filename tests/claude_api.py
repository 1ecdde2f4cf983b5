"""A loopback stand-in for the Messages API, for the real Claude Code CLI in tests.

The cloud API cannot exist here; everything else does: the real ``claude``
runs the real tools.  The "model" asks for one Bash call running ``command``
and, once it has the result, says it is done.  It serves on 127.0.0.1, port 0,
in a thread of the test process, for the life of a ``with`` block.
"""

from __future__ import annotations

import http.server
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _has_tool_result(request: dict[str, Any]) -> bool:
    messages = request.get("messages") or [{}]
    content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def _stream(message_id: str, model: object, blocks: list[dict[str, Any]]) -> bytes:
    """A streamed reply made of ``blocks`` (text or tool_use, their input whole)."""
    usage = {"input_tokens": 100, "output_tokens": 10}
    start = {"id": message_id, "type": "message", "role": "assistant", "model": model}
    start.update(content=[], stop_reason=None, stop_sequence=None, usage=usage)
    out = [_sse("message_start", {"type": "message_start", "message": start})]
    stop = "end_turn"
    for index, block in enumerate(blocks):
        if block["type"] == "text":
            first = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            stop = "tool_use"
            first = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        where = {"index": index}
        out.append(
            _sse(
                "content_block_start",
                {"type": "content_block_start", **where, "content_block": first},
            )
        )
        out.append(
            _sse("content_block_delta", {"type": "content_block_delta", **where, "delta": delta})
        )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", **where}))
    delta = {"stop_reason": stop, "stop_sequence": None}
    out.append(_sse("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return b"".join(out)


def _handler(command: str) -> type[http.server.BaseHTTPRequestHandler]:
    counter = itertools.count(1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: object) -> None:
            pass

        def _send(self, body: bytes, kind: str = "application/json") -> None:
            self.send_response(200)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._send(b"{}")

        def do_HEAD(self) -> None:
            self._send(b"")

        def do_POST(self) -> None:
            size = int(self.headers.get("content-length", 0))
            request = json.loads(self.rfile.read(size) or b"{}")
            number = next(counter)
            if "count_tokens" in self.path:
                self._send(b'{"input_tokens": 10}')
                return
            tools = [tool.get("name") for tool in request.get("tools", [])]
            if "Bash" in tools and not _has_tool_result(request):
                blocks: list[dict[str, Any]] = [
                    {"type": "text", "text": "Let me run it."},
                    {
                        "type": "tool_use",
                        "id": f"toolu_standin{number:03d}",
                        "name": "Bash",
                        "input": {"command": command, "description": "run it"},
                    },
                ]
            else:
                blocks = [{"type": "text", "text": "All done."}]
            message_id = f"msg_standin{number:04d}"
            if not request.get("stream"):
                reply = {"id": message_id, "type": "message", "role": "assistant"}
                reply.update(model=request.get("model"), content=blocks, stop_reason="end_turn")
                reply.update(stop_sequence=None, usage={"input_tokens": 100, "output_tokens": 10})
                self._send(json.dumps(reply).encode())
                return
            self._send(_stream(message_id, request.get("model"), blocks), "text/event-stream")

    return Handler


@contextmanager
def messages_api(command: str) -> Iterator[str]:
    """Serve the stand-in; yields its base URL (for ANTHROPIC_BASE_URL)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(command))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
