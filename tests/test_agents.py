"""The stream formats' home: the registry, what every format promises, the line splitter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import FIXTURES, Session, main_in_new_python
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace import libc
from autoskillit_trace.agents import (
    AUTO,
    DETECT_LINES,
    FALLBACK,
    FORMATS,
    NEEDLE,
    Detector,
    LineSplitter,
    claims_of,
    format_for,
    format_problem,
    open_stream,
)
from autoskillit_trace.summary import AGENT_FIELDS, Outcome, Peaks, build_summary

# -- the registry ------------------------------------------------------------------


def test_auto_takes_the_format_named_as_the_command() -> None:
    formats = {"claude": "claude", "codex": "codex"}
    assert format_for(AUTO, ["/usr/local/bin/codex", "exec", "--json"], formats) == "codex"
    assert format_for(AUTO, ["claude", "-p", "hi"], formats) == "claude"
    assert format_for(AUTO, ["npx", "codex"], formats) == FALLBACK  # argv[0] only
    assert format_for(AUTO, ["python3", "agent.py"], formats) == FALLBACK
    assert format_for(AUTO, [], formats) == FALLBACK


def test_a_named_format_is_taken_whatever_the_command() -> None:
    assert format_for("claude", ["/usr/bin/codex"], {"codex": "codex"}) == "claude"


def test_format_names_are_checked_against_the_registry() -> None:
    assert format_problem(AUTO) is None
    for name in FORMATS:
        assert format_problem(name) is None
    assert format_problem("Claude") == (
        f"unknown stream format 'Claude' (known: {', '.join((AUTO, *FORMATS))})"
    )
    assert FALLBACK in FORMATS


# -- what every registered format promises -----------------------------------------

lines = st.lists(
    st.binary(max_size=120)
    | st.dictionaries(
        st.sampled_from(["type", "id", "message", "result"]), st.text(max_size=6)
    ).map(lambda d: json.dumps(d).encode()),
    max_size=20,
)
SUMMARY_OWN = set(build_summary({}, Peaks(), Outcome(0, "success", "exited: code 0"), {}))


@pytest.mark.parametrize("name", [*sorted(FORMATS), AUTO])
@settings(max_examples=50, deadline=None)
@given(lines=lines)
def test_every_format_reads_any_lines_without_raising(name: str, lines: list[bytes]) -> None:
    parser = open_stream(name, [name])
    assert parser.needle is None or isinstance(parser.needle, bytes)
    for i, line in enumerate(lines):
        for event in parser.feed(line, float(i)):
            json.dumps(event.fields)
    parser.finish(float(len(lines)), cut=bool(lines))
    assert parser.current_turn is None or isinstance(parser.current_turn, int)
    fields = parser.summary_fields()
    json.dumps(fields)
    own = set(fields) - set(AGENT_FIELDS) - {"tool_calls"}
    assert not own & SUMMARY_OWN  # a format's own field never hides one of the summary's


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_cuts_lines_on_the_needle_auto_cuts_on(name: str) -> None:
    """``auto`` knows the needle before it knows the format, without importing them all."""
    assert open_stream(name, [name]).needle == NEEDLE


def test_run_with_agent_events_loads_no_format_before_a_json_line(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """Nor json, dataclasses or typing, at the start or, with no JSON line, at the end.

    They cost ~110M instructions, as much as 190 snapshots of a lone command,
    and a format needs them only once its stream comes.
    """
    spy = (
        "import sys\n"
        "from autoskillit_trace import agents\n"
        "opened = agents.Detector.__init__\n"
        "heavy = {'json', 'dataclasses', 'typing', 'inspect'}  # re: the editable install's\n"
        "def spy(self, argv):\n"
        "    opened(self, argv)\n"
        "    global loaded, loaded_heavy\n"
        "    loaded = sorted(m for m in sys.modules if m.startswith('autoskillit_trace.agents.'))\n"
        "    loaded_heavy = sorted(heavy & set(sys.modules))\n"
        "agents.Detector.__init__ = spy"
    )
    argv = ["run", "--log-dir", str(tmp_path / "logs"), "-q", "--agent-events", "--", "true"]
    after = "print(status, loaded, loaded_heavy, sorted(heavy & set(sys.modules)))"
    proc = main_in_new_python(spy, argv, after, env)
    assert proc.stdout.split("\n")[0] == "0 [] [] []", proc.stderr


# -- a new format: one module and one registry line --------------------------------

TOY_FORMAT = '''
"""A stream of ``toy:turn`` and ``toy:tool NAME`` lines."""

from autoskillit_trace.agents import Event


class Toy:
    needle = b"toy:"

    def __init__(self):
        self.turns = 0
        self.tools = {}

    @property
    def current_turn(self):
        return self.turns or None

    def feed(self, line, now):
        word = line.decode(errors="replace").strip()
        if word == "toy:turn":
            self.turns += 1
            return [Event("INFO", "turn_start", {"turn": self.turns, "phase": "executing"})]
        if word.startswith("toy:tool "):
            name = word.split(" ", 1)[1]
            self.tools[name] = self.tools.get(name, 0) + 1
            return [Event("INFO", "agent_invoked", {"agent": name, "turn": self.turns})]
        return []

    def finish(self, now, cut=False):
        return []

    def summary_fields(self):
        return {
            "agent_turns": self.turns,
            "tool_call_count": sum(self.tools.values()),
            "tool_calls": self.tools,
            "toy_mood": "fine",
            "success": "a format cannot say",
        }


def for_command(argv):
    return Toy()
'''


@pytest.mark.parametrize(
    ("name", "options"),
    [("toy", ()), ("toy-wrapper", ("--agent-format", "toy"))],
    ids=["auto", "named"],
)
def test_a_new_format_is_a_module_and_a_registry_line(
    tmp_path: Path, env: dict[str, str], name: str, options: tuple[str, ...]
) -> None:
    """A real run reads a format added from outside, found by the command's name or named."""
    home = tmp_path / "formats"
    home.mkdir()
    (home / "toy.py").write_text(TOY_FORMAT)
    register = (
        "import autoskillit_trace.agents as agents\n"
        f"agents.__path__.append({str(home)!r})\n"
        "agents.FORMATS['toy'] = 'toy'"
    )
    command = tmp_path / name
    command.write_text("#!/bin/sh\nprintf 'toy:turn\\nplain output\\ntoy:tool Grep\\n'\n")
    command.chmod(0o755)
    root = tmp_path / "logs"
    argv = ["run", "--log-dir", str(root), "-q", "--agent-events", *options, "--", str(command)]
    proc = main_in_new_python(register, argv, "print('status', status)", env)
    assert proc.stdout == "toy:turn\nplain output\ntoy:tool Grep\nstatus 0\n", proc.stderr
    (folder,) = (root / "sessions").iterdir()
    session = Session(folder)
    events = [(e["event"], e.get("agent")) for e in session.records("events.jsonl")]
    assert events[1:-1] == [("turn_start", None), ("agent_invoked", "Grep")]
    summary = session.summary
    assert summary["success"] is True  # not the format's to change
    assert summary["agent_turns"] == 1 and summary["tool_call_count"] == 1
    assert summary["tool_calls"] == {"Grep": 1} and summary["num_turns"] is None
    keys = list(summary)
    assert keys.index("toy_mood") == keys.index("tool_calls") + 1
    assert keys[keys.index("signal") + 1 : keys.index("toy_mood")] == [*AGENT_FIELDS, "tool_calls"]


# -- cutting the stream into lines -------------------------------------------------


def _feed_in_chunks(splitter: LineSplitter, data: bytes, cuts: list[int]) -> list[bytes]:
    """Every line ``splitter`` gives for ``data`` cut at ``cuts``, the rest, then finish()."""
    lines: list[bytes] = []
    offset = 0
    for cut in cuts:
        lines += splitter.feed(data[offset : offset + cut])
        offset += cut
    return lines + splitter.feed(data[offset:]) + splitter.finish()


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=30))
def test_splitter_gives_the_lines_whatever_the_chunks(data: bytes, cuts: list[int]) -> None:
    splitter = LineSplitter()
    lines = _feed_in_chunks(splitter, data, cuts)
    expected = data.split(b"\n")
    if expected[-1] == b"":
        expected.pop()
    assert lines == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from([b"ab", b"\n", b'"type"', b"x\ny", b'"ty', b'pe"']), max_size=40),
    st.lists(st.integers(1, 9), max_size=20),
)
def test_splitter_with_a_needle_keeps_every_line_holding_it(
    words: list[bytes], cuts: list[int]
) -> None:
    data = b"".join(words)
    splitter = LineSplitter(needle=b'"type"')
    lines = _feed_in_chunks(splitter, data, cuts)
    wanted = [line for line in data.split(b"\n") if b'"type"' in line]
    assert [line for line in lines if b'"type"' in line] == wanted


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.binary(min_size=1, max_size=8), st.integers(0, 300))
def test_the_libc_search_agrees_with_in(data: bytes, needle: bytes, at: int) -> None:
    """memmem finds what ``in`` finds, NUL bytes and all, wherever the needle sits."""
    holds = libc.finder(needle)
    assert holds(data) == (needle in data)
    at = min(at, len(data))
    planted = data[:at] + needle + data[at:]
    assert holds(planted) and holds(planted[at : at + len(needle)])
    assert holds(planted[at + 1 :]) == (needle in planted[at + 1 :])


def test_without_memmem_the_search_is_bytes_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(libc, "_function", lambda *_args: None)  # as on a libc without it
    holds = libc.finder(b'"type"')
    assert holds(b'{"type":1}') and not holds(b'{"typ') and not holds(b"")


def test_splitter_drops_overlong_lines_only() -> None:
    splitter = LineSplitter(limit=10)
    assert splitter.feed(b"x" * 8) == []
    assert splitter.feed(b"y" * 8) == []  # over the limit: this line is dropped
    assert splitter.feed(b"zz\nok\nrest") == [b"ok"]
    assert splitter.finish() == [b"rest"]


# -- finding the format from the stream ----------------------------------------------

CAPTURES = sorted(FIXTURES.glob("*.jsonl"))


def _events(parser: Any, lines: list[bytes]) -> list[tuple[str, str, dict[str, Any]]]:
    events = [e for i, line in enumerate(lines) for e in parser.feed(line, float(i))]
    events += parser.finish(float(len(lines)))
    return [(e.level, e.event, e.fields) for e in events]


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_every_capture_is_claimed_by_its_own_format_and_no_other(path: Path) -> None:
    """No JSON line of one CLI is claimed by another; a capture's first line decides."""
    cli = path.name.split("_", 1)[0]
    records = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()]
    assert claims_of(records[0]) == cli
    assert {claims_of(r) for r in records} <= {cli, None}


def test_lines_before_the_claim_are_replayed_to_the_format() -> None:
    from autoskillit_trace.agents.codex import StreamParser

    lines = [b'{"type": "hello"}', b"plain text", b"[1, 2]"]
    lines += (FIXTURES / "codex_failing_command.jsonl").read_bytes().splitlines()
    detector = Detector(["node", "agent.js"])
    assert detector.needle == b'"type"'  # every format's lines hold it
    assert _events(detector, lines) == _events(StreamParser(), lines)
    assert detector.summary_fields()["cli"] == "codex"


def test_a_call_open_during_detection_is_seen() -> None:
    lines = (FIXTURES / "codex_two_commands.jsonl").read_bytes().splitlines()
    detector = Detector(["runner"])
    assert detector.open_calls == {} and detector.current_turn is None
    for i, line in enumerate(lines[:4]):
        detector.feed(line, float(i))
    assert detector.open_calls == {"item_1": "command_execution"}
    assert detector.current_turn == 1


def test_unclaimed_lines_fall_back_after_the_first_fifty() -> None:
    detector = Detector(["runner"])
    codex_first = (FIXTURES / "codex_two_commands.jsonl").read_bytes().splitlines()[0]
    for i in range(DETECT_LINES - 1):
        detector.feed(b"not json", float(i))
        detector.feed(b'{"type": "unknown"}', float(i))
    assert detector.parser is None
    detector.feed(b'{"type": "unknown"}', 50.0)
    assert type(detector.parser).__module__ == f"autoskillit_trace.agents.{FALLBACK}"
    detector.feed(codex_first, 51.0)  # too late: the format is chosen
    assert type(detector.parser).__module__ == f"autoskillit_trace.agents.{FALLBACK}"


def test_a_stream_that_ends_unclaimed_is_read_by_the_fallback() -> None:
    detector = Detector(["runner"])
    assert detector.feed(b'{"type": "unknown"}', 0.0) == []
    detector.finish(1.0)
    assert type(detector.parser).__module__ == f"autoskillit_trace.agents.{FALLBACK}"
    json.dumps(detector.summary_fields())


def test_one_input_picker_with_each_formats_names_and_fallback() -> None:
    """stream.input_text: the first of the format's keys with text, else its fallback;
    null when the call has no arguments at all (every format alike)."""
    from autoskillit_trace.agents.claude import tool_input_text
    from autoskillit_trace.agents.gemini import call_input
    from autoskillit_trace.agents.stream import INPUT_LIMIT, input_text

    assert input_text(None) is None
    assert tool_input_text(None) is None and call_input(None) is None
    assert input_text({"cmd": ["ls", "-l"], "other": "x"}) == "ls -l"  # a list of words joined
    assert input_text({"command": "", "path": "/a"}) == "/a"  # empty text is no text
    assert input_text({"unknown": "x"}) == ""  # no fallback: nothing to show
    assert input_text({"unknown": "x"}, ("a",), lambda args: "fallback") == "fallback"
    assert input_text(42) == "42" and input_text("  ls \n -l ") == "ls -l"
    assert tool_input_text({"unknown": 3, "other": "text"}) == "text"
    assert call_input({"a": 1}) == '{"a":1}'
    assert len(input_text("x" * 500) or "") == INPUT_LIMIT
