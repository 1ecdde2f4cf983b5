"""Loopback stand-ins for the agents' cloud APIs: the real CLIs talk to these in the tests.

``serving(model)`` is a threaded HTTP server on 127.0.0.1, port 0, living
for a ``with`` block; it keeps every request and hands each to ``model``, a
scripted "model" of one API: ``MessagesModel`` (Claude Code),
``ResponsesModel`` (Codex, Copilot CLI) or ``GeminiModel`` (Gemini CLI).
Its ``Script`` says which shell commands it asks for, one per tool round,
and which HTTP status its answers fail with.  The model decides only what
it answers; the CLI itself runs the tools and writes its stream.  Below
them, the argv and environment that point each CLI at a stand-in.

``python tests/standins.py KIND MODE [PORT]`` serves one (KIND: claude,
gemini, codex or copilot; MODE: one of ``MODES``) for capturing fixtures
by hand.
"""

from __future__ import annotations

import http.server
import itertools
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpers import Traced, clean_env

# Shell commands the scripted model asks for, one per tool round; each prints a marker.
COMMANDS = ("echo first-marker && uname -s", "echo second-marker && expr 6 '*' 7")
# The second one writes a file: without permission, Claude refuses it.
WRITE_COMMANDS = (COMMANDS[0], "echo denied > made-by-agent.txt")
FINAL_TEXT = "All done."
# What Codex and Copilot CLI are asked in the tests and the captures.
PROMPT = "run echo one, then ls"
# One JSON answer for every side question the Gemini CLI asks (model routing, next speaker).
SIDE_ANSWER = {
    "complexity_reasoning": "a simple task",
    "complexity_score": 1,
    "reasoning": "done",
    "model_choice": "flash",
    "next_speaker": "user",
}


@dataclass(frozen=True)
class Script:
    """What a scripted model does: ``commands`` one per round, then ``text``.

    ``fail``: the HTTP status its answers fail with (401 a bad key, 529
    overloaded); all of them, or only the first ``fail_first``.
    """

    commands: Sequence[str] = COMMANDS
    text: str = FINAL_TEXT
    fail: int | None = None
    fail_first: int | None = None


# The scripts by name, for ``python tests/standins.py KIND MODE``.
MODES = {
    "tools": Script(),  # two shell calls, then an answer
    "write": Script(WRITE_COMMANDS),  # the second call writes a file
    "unauthorized": Script(fail=401),
    "overloaded": Script(fail=529),
    "flaky": Script(fail=529, fail_first=2),  # two 529s, then "tools"
}


@dataclass
class Request:
    """One request a stand-in received: method, path (without its query) and JSON body."""

    method: str
    path: str
    body: dict[str, Any]


@dataclass
class Reply:
    """What a stand-in answers: a status, a body, its content type."""

    status: int
    body: bytes
    content_type: str = "application/json"


def json_reply(value: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(value).encode())


def sse(events: Sequence[dict[str, Any]], named: bool = True) -> Reply:
    """Server-sent events, each named for its ``type`` when ``named``."""
    chunks = [
        (f"event: {e['type']}\n" if named else "") + f"data: {json.dumps(e)}\n\n" for e in events
    ]
    return Reply(200, "".join(chunks).encode(), "text/event-stream")


class Model:
    """A scripted model of one API: numbers its answers, fails when its script says so."""

    def __init__(self, script: Script = MODES["tools"]) -> None:
        self.script = script
        self._ids = itertools.count(1)
        self._failures = itertools.count(1)
        self._lock = threading.Lock()

    def next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def failure(self) -> int | None:
        """The HTTP status this request fails with, when the script says so."""
        with self._lock:
            n = next(self._failures)
        first = self.script.fail_first
        return self.script.fail if first is None or n <= first else None

    def __call__(self, request: Request) -> Reply:
        raise NotImplementedError


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


def _handler(model: Model, requests: list[Request]) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def answer(self, method: str) -> None:
            size = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(size) or b"{}")
            except ValueError:
                body = {}
            request = Request(
                method, self.path.split("?", 1)[0], body if isinstance(body, dict) else {}
            )
            requests.append(request)
            reply = model(request)
            self.send_response(reply.status)
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(reply.body)))
            if reply.content_type == "text/event-stream":
                self.send_header("cache-control", "no-cache")
            self.end_headers()
            self.wfile.write(reply.body)

        def do_GET(self) -> None:
            self.answer("GET")

        def do_POST(self) -> None:
            self.answer("POST")

        def do_HEAD(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

    return Handler


@contextmanager
def serving(model: Model, port: int = 0) -> Iterator[StandIn]:
    """Serve ``model`` on 127.0.0.1 (a free port unless ``port``) for the life of the block."""
    requests: list[Request] = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _handler(model, requests))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StandIn(server.server_address[1], requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- Anthropic Messages API (Claude Code) ------------------------------------------


class MessagesModel(Model):
    """``POST /v1/messages``: streamed replies; Bash calls, or a subagent for ``SUBAGENT``."""

    def __call__(self, request: Request) -> Reply:
        if request.method != "POST":
            return json_reply({})
        req = request.body
        if "count_tokens" in request.path:
            return json_reply({"input_tokens": 10})
        if not req.get("stream"):
            return json_reply(self.message([("text", "ok")], "end_turn"))
        status = self.failure()
        if status is not None:
            kind = {401: "authentication_error", 529: "overloaded_error"}[status]
            error = {"type": "error", "error": {"type": kind, "message": f"stand-in: {kind}"}}
            return json_reply(error, status)
        plan, stop = self.plan(req)
        return sse(self.stream(plan, stop))

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
        commands = self.script.commands
        if "Bash" in tools and rounds < len(commands) and "SUBAGENT" not in text:
            command = {"command": commands[rounds], "description": f"step {rounds + 1}"}
            return [("text", "Let me run it."), ("tool_use", "Bash", command)], "tool_use"
        return [("text", self.script.text)], "end_turn"

    def message(self, content: list[tuple[Any, ...]], stop: str | None) -> dict[str, Any]:
        i = self.next_id()
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

    def stream(self, plan: list[tuple[Any, ...]], stop: str) -> list[dict[str, Any]]:
        start = self.message([], None)
        out: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
        for idx, step in enumerate(plan):
            if step[0] == "text":
                block: dict[str, Any] = {"type": "text", "text": ""}
                delta = {"type": "text_delta", "text": step[1]}
            else:
                tool_id = f"toolu_standin{start['id'][-4:]}_{idx}"
                block = {"type": "tool_use", "id": tool_id, "name": step[1], "input": {}}
                delta = {"type": "input_json_delta", "partial_json": json.dumps(step[2])}
            out += [
                {"type": "content_block_start", "index": idx, "content_block": block},
                {"type": "content_block_delta", "index": idx, "delta": delta},
                {"type": "content_block_stop", "index": idx},
            ]
        usage = {"output_tokens": start["usage"]["output_tokens"]}
        out.append({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": usage})
        out.append({"type": "message_stop"})
        return out


# -- OpenAI Responses API (Codex, Copilot CLI) -------------------------------------

UNAUTHORIZED = {
    "error": {
        "message": "Incorrect API key provided: fake.",
        "type": "invalid_request_error",
        "code": "invalid_api_key",
    }
}


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


class ResponsesModel(Model):
    """``POST /v1/responses`` as server-sent events: a shell call per round, then text."""

    def __call__(self, request: Request) -> Reply:
        status = self.failure()
        if status is not None:
            return json_reply(UNAUTHORIZED, status)
        if request.method != "POST" or not request.path.endswith("/responses"):
            return json_reply({"error": {"message": "not here"}}, 404)
        body = request.body
        n = self.next_id()
        done = _outputs_given(body)
        tools = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        commands = self.script.commands
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
            text = {"type": "output_text", "text": self.script.text, "annotations": []}
            item = {
                "type": "message",
                "id": f"msg_{n}",
                "role": "assistant",
                "status": "completed",
                "content": [text],
            }
        return sse(_response_events(n, body.get("model"), item))


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


# -- Gemini API (Gemini CLI) --------------------------------------------------------


class GeminiModel(Model):
    """``…:generateContent`` and ``…:streamGenerateContent?alt=sse``: shell calls, then text."""

    def __call__(self, request: Request) -> Reply:
        if request.method != "POST":
            return json_reply({})
        if ":countTokens" in request.path:
            return json_reply({"totalTokens": 10})
        status = self.failure()
        if status is not None:
            message, word = {
                401: ("API key not valid. Please pass a valid API key.", "UNAUTHENTICATED"),
                529: ("The model is overloaded. Please try again later.", "UNAVAILABLE"),
            }[status]
            return json_reply(
                {"error": {"code": status, "message": message, "status": word}}, status
            )
        answer = self.answer(request.body)
        if ":streamGenerateContent" in request.path:
            return sse([answer], named=False)
        return json_reply(answer)

    def answer(self, req: dict[str, Any]) -> dict[str, Any]:
        contents = req.get("contents", [])
        text = json.dumps(contents)
        rounds = text.count('"functionResponse"')
        shell = self.shell_tool(req)
        config = req.get("generationConfig") or {}
        commands = self.script.commands
        if config.get("responseMimeType") == "application/json" or shell is None:
            # The CLI's own side questions (routing, next speaker): a JSON answer.
            parts = [{"text": json.dumps(SIDE_ANSWER)}]
        elif rounds < len(commands):
            call = {"name": shell, "args": {"command": commands[rounds]}}
            parts = [{"text": "Let me run it."}, {"functionCall": call}]
        else:
            parts = [{"text": self.script.text}]
        i = self.next_id()
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


MODELS: dict[str, type[Model]] = {
    "claude": MessagesModel,
    "gemini": GeminiModel,
    "codex": ResponsesModel,
    "copilot": ResponsesModel,
}


# -- the CLIs, pointed at a stand-in -----------------------------------------------

CLAUDE = os.environ.get("AUTOSKILLIT_TEST_CLAUDE") or shutil.which("claude")
GEMINI = shutil.which("gemini")
CODEX = shutil.which("codex")
COPILOT = shutil.which("copilot")


def agent_env(tmp: Path, **extra: str) -> tuple[dict[str, str], Path]:
    """A clean environment whose HOME (CODEX_HOME, TMPDIR) is fresh, and a work folder.

    The work folder holds one file, ``a.txt``, for the commands to see.
    """
    home, scratch, work = tmp / "agent-home", tmp / "agent-tmp", tmp / "work"
    for folder in (home, scratch, work):
        folder.mkdir()
    (work / "a.txt").write_text("x\n")
    env = clean_env(tmp, HOME=str(home), CODEX_HOME=str(home), TMPDIR=str(scratch), **extra)
    return env, work


def claude_argv(prompt: str, *options: str) -> list[str]:
    """``claude -p PROMPT`` writing its stream-json, then ``options``."""
    return [CLAUDE or "claude", "-p", prompt, "--output-format", "stream-json", "--verbose",
            *options]  # fmt: skip


def claude_env(url: str) -> dict[str, str]:
    """The environment that points Claude Code at the stand-in at ``url``, with a fake key."""
    return {
        "ANTHROPIC_API_KEY": "sk-ant-fake",
        "ANTHROPIC_BASE_URL": url,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }


def gemini_argv(prompt: str) -> list[str]:
    """``gemini -p PROMPT`` writing its stream-json, its tools allowed to run unasked."""
    return [GEMINI or "gemini", "-p", prompt, "--output-format", "stream-json",
            "--skip-trust", "--yolo"]  # fmt: skip


def gemini_env(env: dict[str, str], url: str) -> dict[str, str]:
    """``env`` with the stand-in as the API and, in its HOME, an API-key login only."""
    settings = Path(env["HOME"]) / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
    return {**env, "GEMINI_API_KEY": "fake", "GOOGLE_GEMINI_BASE_URL": url}


def codex_argv(url: str, prompt: str) -> list[str]:
    """``codex exec --json`` against the stand-in at ``url``, running commands unsandboxed."""
    provider = f'model_providers.fake={{name="fake", base_url="{url}/v1", wire_api="responses"}}'
    return [
        CODEX or "codex", "exec", "--json", "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        "-c", provider, "-c", "model_provider=fake", "-m", "fake-model", prompt,
    ]  # fmt: skip


def copilot_argv(prompt: str) -> list[str]:
    """``copilot -p`` with its JSON stream, its tools allowed to run unasked."""
    return [COPILOT or "copilot", "-p", prompt, "--output-format", "json", "--allow-all-tools"]


def copilot_env(url: str) -> dict[str, str]:
    """The environment that points Copilot CLI at the stand-in at ``url``, offline."""
    return {
        "COPILOT_OFFLINE": "true",
        "COPILOT_PROVIDER_BASE_URL": f"{url}/v1",
        "COPILOT_PROVIDER_WIRE_API": "responses",
        "COPILOT_MODEL": "fake-model",
    }


def stream_of(traced: Traced) -> list[dict[str, Any]]:
    """The JSON lines the agent printed, as the wrapper passed them through."""
    lines = traced.stdout.splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


if __name__ == "__main__":
    kind, mode, port = sys.argv[1], sys.argv[2], int(sys.argv[3]) if sys.argv[3:] else 8765
    with serving(MODELS[kind](MODES[mode]), port) as s:
        print(s.url, flush=True)
        threading.Event().wait()
