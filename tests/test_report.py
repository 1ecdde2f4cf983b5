"""The HTML report: ``show --html``, ``run --html`` and ``report --out``, opened in a real browser.

Headless Chromium loads the pages of real sessions from ``file://`` with the
network blocked (tests/browser.py) and tells what it logged, what it
requested, what the DOM holds and what it drew.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from browser import Page, chromium, png_colours
from helpers import Session, clean_env, run_traced, tracer, workload
from hypothesis import given, settings
from hypothesis import strategies as st
from standins import CLAUDE, MessagesModel, Script, agent_env, claude_argv, claude_env, serving

from autoskillit_trace.report.downsample import min_max
from autoskillit_trace.report.lane import build_lane
from autoskillit_trace.textfmt import human_kb
from autoskillit_trace.timeutil import parse_iso

needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="no Chromium (apt-get install chromium; .ci/run installs it)"
)


def cli(env: dict[str, str], *args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tracer(*args), capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> Session:
    """A real session whose memory climbs to a peak (a few hundred MiB), then ends."""
    root = tmp_path_factory.mktemp("grown") / "logs"
    traced = run_traced(root, workload("grow", 2.5, 8, 0.05), interval=0.1)
    assert traced.proc.returncode == 0, traced.stderr
    return traced.session


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    """One headless Chromium for the module's tests."""
    if chromium() is None:
        pytest.skip("no Chromium (apt-get install chromium; .ci/run installs it)")
    with Page(tmp_path_factory.mktemp("chromium")) as opened:
        yield opened


def write_html(session: Session, target: Path) -> Path:
    root = session.folder.parents[1]
    proc = cli(
        clean_env(root.parent), "show", "--log-dir", root, session.folder.name, "--html", target
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"report written to {target}\n"
    return target


def load(page: Page, path: Path) -> None:
    """Open the page; nothing logged on the console and nothing requested but the file."""
    page.console.clear()
    page.requests.clear()
    page.open(path)
    assert page.console == []
    assert page.requests == [path.resolve().as_uri()]


# -- one session ----------------------------------------------------------------------


@needs_chromium
def test_a_real_session_in_the_browser(grown: Session, page: Page, tmp_path: Path) -> None:
    report = write_html(grown, tmp_path / "grown.html")
    load(page, report)
    summary = grown.summary
    peaks = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('svg.chart[data-metric]')]"
        ".map(s => [s.dataset.metric, Number(s.dataset.peak)]))"
    )
    # The peak each chart draws is the recorded one, to the KiB.
    assert peaks["rss"] == summary["peak_tree_rss_kb"]
    assert peaks["procs"] == summary["peak_tree_procs"]
    assert peaks["files"] == summary["peak_tree_fd_count"]
    assert peaks["cpu"] == summary["peak_tree_cpu_percent"]
    legend = page.evaluate("document.querySelector('#chart-rss').textContent")
    assert f"whole tree: peak {human_kb(summary['peak_tree_rss_kb'])}" in legend
    assert f"command: peak {human_kb(summary['peak_rss_kb'])}" in legend
    header = page.evaluate("document.querySelector('header').innerText")
    assert f"{human_kb(summary['peak_rss_kb'])} (tree {human_kb(summary['peak_tree_rss_kb'])})" in (
        header
    )
    assert grown.summary["skill_command"] in header
    # Every series is drawn through every snapshot, and laid out with a real size.
    lines = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('path.line')].map(p => "
        "[p.classList[1], [Number(p.dataset.points), p.getBBox().width]]))"
    )
    fields = {"tree": "tree_rss_kb", "own": "vm_rss_kb", "cpu": "tree_cpu_percent",
              "files": "tree_fd_count", "procs": "tree_procs"}  # fmt: skip
    assert set(lines) == set(fields)
    for css, (points, width) in lines.items():
        known = [s for s in grown.snapshots if s[fields[css]] is not None]
        assert points == len(known) > 20 and width > 500
    shot = page.screenshot()
    assert len(png_colours(shot)) > 5  # lines of several colours on white: not blank

    # Hovering a chart puts a line at that time across every chart.
    box = page.evaluate(
        "(() => { const r = document.querySelector('#chart-cpu').getBoundingClientRect();"
        " return [r.left + r.width * 0.5, r.top + r.height / 2]; })()"
    )
    page.call("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": box[0], "y": box[1]})
    cursors = page.evaluate(
        "[...document.querySelectorAll('svg.chart')].map(svg => ["
        " svg.querySelector('line.cursor').style.visibility,"
        " Number(svg.querySelector('line.cursor').getAttribute('x1')),"
        " svg.querySelector('text.cursor').textContent])"
    )
    assert len(cursors) == 4 and len({(v, round(x, 3), t) for v, x, t in cursors}) == 1
    visibility, x, text = cursors[0]
    duration = float(page.evaluate("document.body.dataset.duration"))
    assert visibility == "visible" and x == pytest.approx(500, abs=2)
    assert float(text.strip("+s")) == pytest.approx((x - 84) / 900 * duration, abs=0.02)


@needs_chromium
def test_the_charts_are_there_without_javascript(
    grown: Session, page: Page, tmp_path: Path
) -> None:
    report = write_html(grown, tmp_path / "grown.html")
    page.open(report, javascript=False)
    try:
        drawn = page.evaluate(
            "[...document.querySelectorAll('path.line')].map(p => p.getBBox().width)"
        )
        assert len(drawn) == 5 and min(drawn) > 500
    finally:
        page.call("Emulation.setScriptExecutionDisabled", {"value": False})


@needs_chromium
def test_anomalies_are_marked_on_every_chart(page: Page, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    traced = run_traced(root, workload("oom", 0.3, 1.0), interval=0.1)
    session = traced.session
    assert "oom_critical" in session.kinds
    load(page, write_html(session, tmp_path / "oom.html"))
    marks = page.evaluate(
        "[...document.querySelectorAll('#chart-rss g.mark')].map(g => "
        "[g.classList.contains('critical'), g.querySelector('title').textContent])"
    )
    assert len(marks) == len(session.anomalies)
    assert any(critical and text.startswith("oom_critical (critical)") for critical, text in marks)
    assert page.evaluate("document.querySelectorAll('svg.chart g.mark').length") == 4 * len(marks)
    table = page.evaluate("document.querySelector('#anomalies + table').innerText")
    assert "oom_critical" in table


HOSTILE = '<script>alert(1)</script> <img src="https://example.invalid/x.png"> "quoted" & more'


@needs_chromium
def test_the_command_line_is_text_not_markup(page: Page, tmp_path: Path) -> None:
    root = tmp_path / "logs"
    traced = run_traced(root, ["sh", "-c", "exit 3", HOSTILE], interval=0.1)
    assert traced.proc.returncode == 3
    report = write_html(traced.session, tmp_path / "hostile.html")
    load(page, report)  # nothing fetched: the img is text
    assert page.evaluate("document.querySelectorAll('img, iframe, link').length") == 0
    assert page.evaluate("[...document.scripts].every(s => !s.text.includes('alert'))")
    assert (
        page.evaluate("document.querySelector('h1').textContent")
        == (traced.session.summary["skill_command"])
    )
    assert HOSTILE in page.evaluate("document.querySelector('h1').textContent")
    assert "failed (exit 3)" in page.evaluate("document.querySelector('.outcome').textContent")


class References(HTMLParser):
    """Every attribute that could load or link something, and every style text."""

    LINKING = frozenset(
        {"src", "href", "xlink:href", "action", "srcset", "poster", "data", "background"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.styles: list[str] = []
        self.tags: set[str] = set()
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self._in_style = tag == "style"
        self.links += [v or "" for k, v in attrs if k in self.LINKING]
        self.styles += [v or "" for k, v in attrs if k == "style"]

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def references(path: Path) -> References:
    found = References()
    found.feed(path.read_text())
    return found


def test_a_report_refers_to_nothing_outside_itself(grown: Session, tmp_path: Path) -> None:
    report = write_html(grown, tmp_path / "r.html")
    found = references(report)
    assert found.links == []  # no src, href, ... at all: the one script is inline
    assert found.tags.isdisjoint({"img", "link", "iframe", "object", "embed", "image", "use"})
    assert all("url(" not in s and "@import" not in s for s in found.styles)
    text = report.read_text()
    assert (
        "http://" not in text
        and "https://" not in text
        and "//" not in text.replace("<!DOCTYPE html>", "")
    )


# -- the agent's lane -----------------------------------------------------------------


@needs_chromium
@pytest.mark.skipif(
    CLAUDE is None,
    reason="no Claude Code CLI (npm i -g @anthropic-ai/claude-code; or AUTOSKILLIT_TEST_CLAUDE)",
)
def test_the_tool_calls_of_a_real_claude_session_on_the_lane(page: Page, tmp_path: Path) -> None:
    """The real CLI, two Bash calls (the second a memory peak); both on the lane, at their times."""
    steps = [
        "sleep 0.5; echo one",
        "python3 -c 'b = bytearray(150 << 20); import time; time.sleep(1)'",
    ]
    with serving(MessagesModel(Script(steps))) as api:
        env, work = agent_env(tmp_path, **claude_env(api.url), DISABLE_TELEMETRY="1")
        command = claude_argv("run the steps", "--max-turns", "5", "--allowedTools", "Bash")
        traced = run_traced(
            tmp_path / "logs",
            command,
            interval=0.1,
            env=env,
            cwd=work,
            extra=("--agent-events", "--html"),
            timeout=180,
        )
    assert traced.proc.returncode == 0, traced.stderr
    session = traced.session
    assert session.summary["tool_calls"] == {"Bash": 2}
    events = session.records("events.jsonl")
    start = parse_iso(session.summary["start_ts"])
    assert start is not None
    invoked = [parse_iso(e["timestamp"]) - start for e in events if e["event"] == "agent_invoked"]
    assert len(invoked) == 2

    report = session.folder / "report.html"  # written by run --html
    load(page, report)
    calls = page.evaluate(
        "[...document.querySelectorAll('#lane g.call')].map(g => {"
        " const svg = g.ownerSVGElement.getBoundingClientRect();"
        " const r = g.querySelector('rect').getBoundingClientRect();"
        # A bar (a tool_result's span, with data-end) begins at the call; a mark is centred on it.
        " const x = 'end' in g.dataset ? r.left : r.left + r.width / 2;"
        " return [g.dataset.name, Number(g.dataset.start), (x - svg.left) / svg.width];"
        "})"
    )
    assert [name for name, _, _ in calls] == ["Bash", "Bash"]
    duration = max(session.summary["duration_seconds"], session.snapshots[-1]["elapsed_s"])
    left, span = 84 / 1000, (1000 - 84 - 16) / 1000  # charts.LEFT, WIDTH, RIGHT
    for (_, at, where), expected in zip(calls, invoked, strict=True):
        assert at == pytest.approx(expected, abs=1e-3)
        # Drawn at that time on the axis shared with the resource charts.
        assert where == pytest.approx(left + span * expected / duration, abs=0.004)
    turns = page.evaluate("document.querySelectorAll('#lane g.turn').length")
    assert turns == session.summary["agent_turns"]
    agent = page.evaluate("document.querySelector('#agent').nextElementSibling.innerText")
    assert "Bash 2" in agent and str(session.summary["output_tokens"]) in agent


def test_the_lane_of_tool_results_and_errors() -> None:
    """tool_result events are bars ending at their time; errors and retries are marks."""
    start = parse_iso("2026-11-30T10:00:00+00:00")
    assert start is not None

    def at(seconds: float, event: str, **fields: Any) -> dict[str, Any]:
        stamp = f"2026-11-30T10:00:{seconds:09.6f}+00:00"
        return {"timestamp": stamp, "level": "INFO", "event": event, **fields}

    lane = build_lane(
        [
            at(1, "turn_start", turn=1),
            at(2, "agent_invoked", agent="Bash", turn=1),
            at(5, "tool_result", agent="Bash", tool_use_id="t1", turn=1, duration_sec=2.5,
               success=False, input={"command": "make"}, processes_started=3),
            at(6, "retry", attempt=1),
            at(7, "error", turn=1, error_type="tool_error", message="boom"),
            at(8, "turn_complete", turn=1, duration_sec=7.0, success=False),
            None,
            at(9, "turn_complete", turn=2, duration_sec=0.5, success=True),
            at(10, "turn_start", turn=3),
            at(11, "turn_start", turn=[4]),  # an orchestrator's line: any JSON at all
            at(12, "turn_complete", turn=[4], duration_sec="long"),
            {"timestamp": 5, "event": "error"},
        ],
        start,
    )  # fmt: skip
    assert [(t.label, t.start, t.end, t.success) for t in lane.turns] == [
        ("turn 1", 1.0, 8.0, False),
        ("turn 2", 8.5, 9.0, True),
        ("turn 3", 10.0, None, None),
        ("turn [4]", 11.0, 12.0, None),
    ]
    assert [(c.label, c.start, c.end, c.success) for c in lane.calls] == [("Bash", 2.5, 5.0, False)]
    assert dict(lane.tools[0].details)["input"] == '{"command": "make"}'
    assert [(m.kind, m.at, m.label) for m in lane.marks] == [
        ("retry", 6.0, "retry"),
        ("error", 7.0, "tool_error"),
    ]
    only_invoked = build_lane([at(2, "agent_invoked", agent="Read", turn=1)], start)
    assert [(m.label, m.at) for m in only_invoked.calls] == [("Read", 2.0)]


# -- long sessions --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.none() | st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=3000),
    st.integers(2, 500),
)
def test_reduced_series_keep_every_peak(values: list[float | None], limit: int) -> None:
    xs = [float(i) for i in range(len(values))]
    out_x, out_y = min_max(xs, values, limit)
    assert len(out_x) == len(out_y) <= max(limit, 1) or len(values) <= limit
    assert out_x == sorted(out_x)
    known = [v for v in values if v is not None]
    kept = [v for v in out_y if v is not None]
    if known:
        assert max(kept) == max(known) and min(kept) == min(known)
    for x, y in zip(out_x, out_y, strict=True):
        if y is not None:
            assert values[int(x)] == y  # real points, not made-up ones


# -- run --html -----------------------------------------------------------------------


def test_run_html_and_its_setting_write_the_report_at_the_end(tmp_path: Path) -> None:
    root = tmp_path / "logs"
    by_option = run_traced(root, workload("exit", 3), extra=("--html",))
    assert by_option.proc.returncode == 3
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__HTML_REPORT="true")
    by_setting = run_traced(root, workload("exit", 0), env=env)
    assert by_setting.proc.returncode == 0
    plain = run_traced(root, workload("exit", 0))
    reports = {s.folder.name: (s.folder / "report.html").exists() for s in plain.sessions()}
    assert sorted(reports.values()) == [False, True, True]
    for session in plain.sessions():
        if reports[session.folder.name]:
            text = (session.folder / "report.html").read_text()
            assert session.summary["termination_reason"] in text  # written after the summary


def test_a_report_that_cannot_be_written_is_one_warning(tmp_path: Path) -> None:
    """The command takes the report's place first: the wrapper warns, the exit status stays."""
    root = tmp_path / "logs"
    command = ["sh", "-c", 'mkdir "$AUTOSKILLIT_TRACE_SESSION_DIR/report.html"; echo out; exit 5']
    traced = run_traced(root, command, extra=("--html",))
    assert traced.proc.returncode == 5 and traced.stdout == "out\n"
    warnings = [json.loads(line) for line in traced.stderr.splitlines()]
    failed = [w for w in warnings if w["event"] == "export failed"]
    assert len(failed) == 1 and failed[0]["target"].endswith("report.html")
    assert traced.session.summary["exit_code"] == 5


# -- the site of a store --------------------------------------------------------------


def mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "sessions").iterdir()}


def test_the_site_is_built_then_refreshed_where_something_changed(tmp_path: Path) -> None:
    root, out = tmp_path / "logs", tmp_path / "site"
    env = clean_env(tmp_path)
    run_traced(root, workload("exit", 0), extra=("--session-id", "first"))
    run_traced(root, workload("exit", 2), extra=("--session-id", "second"))
    built = cli(env, "report", "--log-dir", root, "--out", out)
    assert built.returncode == 0, built.stderr
    assert built.stderr.endswith("2 pages written, 0 up to date, 0 removed\n")
    assert set(mtimes(out)) == {"first.html", "second.html"}
    index = (out / "index.html").read_text()
    assert index.index("second.html") < index.index("first.html")  # newest first
    before, index_before = mtimes(out), (out / "index.html").stat().st_mtime_ns

    again = cli(env, "report", "--log-dir", root, "--out", out)
    assert again.stderr.endswith("0 pages written, 2 up to date, 0 removed\n")
    assert mtimes(out) == before
    assert (out / "index.html").stat().st_mtime_ns == index_before

    (out / ".generator").write_text("0.0.1")  # pages of another version are drawn again
    upgraded = cli(env, "report", "--log-dir", root, "--out", out)
    assert upgraded.stderr.endswith("2 pages written, 0 up to date, 0 removed\n")
    before = mtimes(out)

    run_traced(root, workload("exit", 0), extra=("--session-id", "third"))
    summary = root / "sessions" / "first" / "summary.json"
    os.utime(summary)  # a summary rewritten (as prune rebuilds one)
    third = cli(env, "report", "--log-dir", root, "--out", out)
    assert third.stderr.endswith("2 pages written, 1 up to date, 0 removed\n")
    now = mtimes(out)
    assert now["second.html"] == before["second.html"]
    assert now["first.html"] != before["first.html"] and "third.html" in now

    assert cli(env, "prune", "--log-dir", root, "--keep", "1").returncode == 0
    pruned = cli(env, "report", "--log-dir", root, "--out", out)
    assert pruned.stderr.endswith("0 pages written, 1 up to date, 2 removed\n")
    assert set(mtimes(out)) == {"third.html"}
    assert "first.html" not in (out / "index.html").read_text()


def test_folder_names_that_are_no_plain_text_get_pages_in_the_site(
    grown: Session, tmp_path: Path
) -> None:
    """Not UTF-8, a newline, a percent sign, too long once quoted: each page is one ASCII
    file in sessions/, linked from the index, and the next build keeps it."""
    root, out = tmp_path / "logs", tmp_path / "site"
    shutil.copytree(grown.folder.parents[1], root)
    odd = [b"bad\xff", b"a\nnl", b"50%41 x", "長".encode() * 80]
    for name in odd:
        shutil.copytree(grown.folder, root / "sessions" / os.fsdecode(name))
    env = clean_env(tmp_path)
    built = cli(env, "report", "--log-dir", root, "--out", out)
    assert built.returncode == 0 and "Traceback" not in built.stderr, built.stderr
    assert built.stderr.endswith("5 pages written, 0 up to date, 0 removed\n")
    assert sorted(p.name for p in out.iterdir()) == [".generator", "index.html", "sessions"]
    pages = sorted(p.name for p in (out / "sessions").iterdir())
    assert len(pages) == 5 and all(p.isascii() and p.isprintable() for p in pages)
    assert all(len(p) < 255 and (out / "sessions" / p).is_file() for p in pages)
    links = references(out / "index.html").links
    assert sorted(unquote(link) for link in links) == [f"sessions/{p}" for p in pages]
    again = cli(env, "report", "--log-dir", root, "--out", out)
    assert again.stderr.endswith("0 pages written, 5 up to date, 0 removed\n"), again.stderr


@needs_chromium
def test_the_index_filters_failed_sessions_and_anomalies(page: Page, tmp_path: Path) -> None:
    root, out = tmp_path / "logs", tmp_path / "site"
    run_traced(root, workload("exit", 0), extra=("--session-id", "ok"))
    run_traced(root, workload("exit", 4), extra=("--session-id", "failed"))
    run_traced(root, workload("oom", 0.2, 0.6), extra=("--session-id", "oom"))
    assert cli(clean_env(tmp_path), "report", "--log-dir", root, "--out", out).returncode == 0
    load(page, out / "index.html")
    shown = "[...document.querySelectorAll('tr[data-session]')].filter(r => !r.hidden)" \
            ".map(r => r.dataset.session)"  # fmt: skip
    assert page.evaluate(shown) == ["oom", "failed", "ok"]
    page.evaluate("document.getElementById('only-failed').click()")
    assert page.evaluate(shown) == ["failed"]
    page.evaluate("document.getElementById('only-failed').click()")
    page.evaluate("document.getElementById('only-anomalies').click()")
    assert page.evaluate(shown) == ["oom"]
    assert page.evaluate("document.getElementById('shown').textContent") == "1"
    found = references(out / "index.html")
    assert found.links == ["sessions/oom.html", "sessions/failed.html", "sessions/ok.html"]
    load(page, out / "sessions" / "oom.html")  # each page opens too, without errors
    assert page.evaluate("document.querySelector('nav a').getAttribute('href')") == "../index.html"


# -- bad input ------------------------------------------------------------------------


def test_bad_input_is_one_line(grown: Session, tmp_path: Path) -> None:
    root = grown.folder.parents[1]
    env = clean_env(tmp_path)
    name = grown.folder.name
    a_file = tmp_path / "file"
    a_file.write_text("")
    missing = tmp_path / "no" / "r.html"
    cases = [
        (("show", "--log-dir", root, name, "--html", tmp_path), 2, "is a folder"),
        (("show", "--log-dir", root, name, "--html", missing), 2, "does not exist"),
        (("show", "--log-dir", root, name, "--html", "r.html", "--json"), 2, "--html goes alone"),
        (("show", "--log-dir", root, name, "--html", ""), 2, "the value is empty; expected FILE"),
        (("show", "--log-dir", root, name, "--json", "--markdown"), 2, "give one"),
        (("show", "--log-dir", root, name, "--markdown", "--processes"), 2, "give one"),
        (("show", "--log-dir", root, name, "--json", "--processes"), 2, "give one"),
        (("ls", "--log-dir", root, "--trend", "--job", "j", "--failed"), 2, "takes no --failed"),
        (("ls", "--log-dir", root, "--trend", "--job", "j", "--min-rss", "1M"), 2, "--min-rss"),
        (("show", "--log-dir", root, "nope", "--html", "r.html"), 1, "no session matches"),
        (("report", "--log-dir", root, "--out", a_file), 2, "is a file"),
        (("report", "--log-dir", root, "--out", a_file / "sub"), 2, "cannot be created"),
        (("report", "--log-dir", root), 2, "Missing option '--out'"),
    ]
    for args, status, words in cases:
        proc = cli(env, *args)
        assert proc.returncode == status, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and words in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not (tmp_path / "r.html").exists() and not Path("r.html").exists()


def test_a_site_inside_the_log_store_is_refused(grown: Session, tmp_path: Path) -> None:
    """Its pages would sit among the session folders, which prune and recovery walk."""
    root = tmp_path / "logs"
    shutil.copytree(grown.folder.parents[1], root)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    env = clean_env(tmp_path)
    for out in (root, root / "sessions", root / "sessions" / "site", root / "site"):
        proc = cli(env, "report", "--log-dir", root, "--out", out)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "is inside the log store" in proc.stderr
        assert proc.stdout == ""
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("where", ["summary", "index"])
def test_a_duration_that_is_not_finite_is_unknown(
    grown: Session, tmp_path: Path, where: str, value: str
) -> None:
    """The time axis is then the last snapshot's, in ``show --html`` and ``report``.

    From the index line, prune rebuilds the lost summary.json with it as null."""
    root = tmp_path / "logs"
    shutil.copytree(grown.folder.parents[1], root)
    env = clean_env(tmp_path)
    name = grown.folder.name
    summary = root / "sessions" / name / "summary.json"
    if where == "summary":
        text = summary.read_text()
        summary.write_text(
            re.sub(r'"duration_seconds": [^,]*', f'"duration_seconds": {value}', text)
        )
    else:
        index = root / "sessions.jsonl"
        text = index.read_text()
        index.write_text(re.sub(r'"duration_seconds":[^,]*', f'"duration_seconds":{value}', text))
        summary.unlink()
        assert cli(env, "prune", "--log-dir", root).returncode == 0
    shown_as = value if where == "summary" else "null"  # prune writes standard JSON
    assert f'"duration_seconds": {shown_as}' in summary.read_text()
    page = tmp_path / "s.html"
    shown = cli(env, "show", "--log-dir", root, name, "--html", page)
    assert shown.returncode == 0, shown.stderr
    last = Session(root / "sessions" / name).snapshots[-1]["elapsed_s"]
    assert f'data-duration="{last:.6f}"' in page.read_text()
    site = cli(env, "report", "--log-dir", root, "--out", tmp_path / "site")
    assert site.returncode == 0 and "Traceback" not in site.stderr, site.stderr
    assert (
        f'data-duration="{last:.6f}"'
        in (tmp_path / "site" / "sessions" / f"{name}.html").read_text()
    )


# -- what other parts of the summary bring, drawn from records --------------------------


def test_totals_top_processes_and_tool_bars_are_shown_escaped(tmp_path: Path) -> None:
    """Fields a summary may carry (exact totals, top processes) and tool_result bars."""
    from autoskillit_trace.report.html import render
    from autoskillit_trace.report.load import load_session

    folder = tmp_path / "s"
    folder.mkdir()
    start = "2026-11-30T10:00:00+00:00"
    snapshots = [
        {"event": "snapshot", "seq": i, "elapsed_s": i * 0.5, "vm_rss_kb": 1000 + i,
         "tree_rss_kb": 2000 + i, "tree_procs": 2, "tree_fd_count": 9, "tree_cpu_percent": 5.0}
        for i in range(20)
    ]  # fmt: skip
    header = {"event": "session_start", "ts": start, "start_ts": start}
    trace = [header, *snapshots]
    (folder / "proc_trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in trace))
    evil = "<b>bold</b> & 'quoted'"
    summary = {
        "session_id": "s", "start_ts": start, "skill_command": f"make {evil}", "success": True,
        "duration_seconds": 9.5, "cpu_user_seconds": 1.25, "cpu_system_seconds": 0.5,
        "max_process_rss_kb": 4096, "page_faults_major": 12, "fs_read_blocks": 800,
        "top_processes": [{"pid": 7, "comm": "cc1", "cmdline": f"cc1 {evil}",
                           "peak_rss_kb": 2048, "cpu_seconds": 3.5,
                           "first_seen_s": 1.0, "last_seen_s": 4.0}],
    }  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    tool = {"timestamp": "2026-11-30T10:00:06+00:00", "level": "INFO", "event": "tool_result",
            "agent": "Bash", "tool_use_id": "t1", "turn": 1, "duration_sec": 2.0,
            "success": False, "input": {"command": evil}, "processes_started": 4}  # fmt: skip
    (folder / "events.jsonl").write_text(json.dumps(tool) + "\n")
    page = render(load_session(folder))
    assert evil not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; &#x27;quoted&#x27;" in page
    expected = [
        "CPU time, user</dt><dd>1.25 s",
        "CPU time, system</dt><dd>0.50 s",
        "Largest process RSS</dt><dd>4.0 MiB",
        "Page faults (major)</dt><dd>12",
        "File-system blocks (read)</dt><dd>800",
        '<h2 id="processes">Top processes</h2>',
        "<td>cc1</td>",
        "+1.0s to +4.0s",
    ]
    for shown in expected:
        assert shown in page, shown
    bar = '<g class="call failed" data-name="Bash" data-start="4.000" data-end="6.000">'
    assert bar in page and "processes_started: 4" in page


def test_the_report_of_a_running_session(tmp_path: Path) -> None:
    from helpers import kill_tree, start_traced, wait_for_snapshots

    root = tmp_path / "logs"
    proc = start_traced(root, workload("sleep", 30), interval=0.05)
    try:
        folder = wait_for_snapshots(root, 3)
        target = tmp_path / "running.html"
        shown = cli(clean_env(tmp_path), "show", "--log-dir", root, folder.name, "--html", target)
        assert shown.returncode == 0, shown.stderr
        page = target.read_text()
        assert "running (no summary yet)" in page and 'data-metric="rss"' in page
    finally:
        kill_tree(proc)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
event_lines = st.fixed_dictionaries(
    {
        "timestamp": st.sampled_from(["2026-11-30T10:00:01+00:00", "2026-11-30T09:00:00Z", "x"])
        | json_values,
        "event": st.sampled_from(
            ["turn_start", "turn_complete", "tool_result", "agent_invoked", "error", "retry"]
        )
        | json_values,
    },
    optional={
        k: json_values
        for k in ("turn", "duration_sec", "success", "agent", "input", "error_type", "message")
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(event_lines | st.none(), max_size=12))
def test_any_event_log_draws_a_lane(events: list[dict[str, Any] | None]) -> None:
    """events.jsonl is open to orchestrators: whatever JSON they wrote, the lane is drawn."""
    from autoskillit_trace.report.charts import lane_chart

    start = parse_iso("2026-11-30T10:00:00+00:00")
    assert start is not None
    lane = build_lane(events, start)
    svg = lane_chart(lane, 5.0)
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_each_tool_call_lists_the_processes_behind_it(tmp_path: Path) -> None:
    """processes.jsonl names the call each process was first seen under: the table says
    how many, the tree's peak and the first command lines, escaped."""
    from autoskillit_trace.report.html import render
    from autoskillit_trace.report.load import load_session

    folder = tmp_path / "s"
    folder.mkdir()
    start = "2026-11-30T10:00:00+00:00"
    header = {"event": "session_start", "ts": start, "start_ts": start}
    (folder / "proc_trace.jsonl").write_text(json.dumps(header) + "\n")
    (folder / "summary.json").write_text(json.dumps({"session_id": "s", "start_ts": start}))
    tool = {"timestamp": "2026-11-30T10:00:06+00:00", "level": "INFO", "event": "tool_result",
            "agent": "Bash", "tool_use_id": "t1", "turn": 1, "duration_sec": 2.0,
            "success": True, "input": {"command": "make"}, "processes_started": 5,
            "peak_tree_rss_kb": 204800}  # fmt: skip
    (folder / "events.jsonl").write_text(json.dumps(tool) + "\n")
    lines = [
        {"pid": 10 + i, "comm": "cc1", "cmdline": f"cc1 <{i}>.c", "tool_use_id": "t1",
         "tool_use_ids": ["t1"], "shared": False}
        for i in range(5)
    ] + [{"pid": 99, "comm": "ld", "cmdline": "ld other", "tool_use_id": None,
          "tool_use_ids": ["t0", "t2"], "shared": True}]  # fmt: skip
    (folder / "processes.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    page = render(load_session(folder))
    row = page[page.index("<h3>Tool calls</h3>") :]
    assert "<td>5</td>" in row
    assert "200.0 MiB" in row
    assert "<code>cc1 &lt;0&gt;.c</code><br><code>cc1 &lt;1&gt;.c</code><br>" in row
    assert "cc1 &lt;3&gt;.c" not in row and "and 2 more" in row and "ld other" not in row
