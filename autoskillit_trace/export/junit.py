"""A JUnit XML report: one test case per session, appended to the file under a lock.

The case fails when the command failed or an anomaly of a kind that detect.py
rates critical was found; the Markdown report is its failure text or its
``system-out``.
"""

from __future__ import annotations

import os

from autoskillit_trace.detect import SEVERITY
from autoskillit_trace.export import write_readable
from autoskillit_trace.timeutil import whole_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

    from autoskillit_trace.export import Context

SUITE = "autoskillit-trace"
LOCK_WAIT_S = 10.0  # for the folder's lock: a stuck holder costs an export, not the wrapper's end


def _report(context: Context) -> Path:
    from pathlib import Path

    assert context.args.junit is not None
    return Path(context.args.junit)


def where(context: Context) -> str:
    return f"JUnit report {_report(context)}"


def send(context: Context) -> None:
    write_junit(_report(context), context.summary, context.labels["command"], context.markdown)


def junit_failure(summary: Mapping[str, Any]) -> str | None:
    """Why the session counts as a failed test case, or None.

    A kind is critical when detect.py says so: a rule added there with that
    severity fails the case with no change here.
    """
    reasons = []
    if not summary.get("success"):
        reasons.append(f"{summary.get('subtype')}: {summary.get('termination_reason')}")
    by_kind = summary.get("anomalies_by_kind") or {}
    critical = sorted(k for k in by_kind if SEVERITY.get(k) == "critical")
    if critical:
        reasons.append("critical anomalies: " + ", ".join(critical))
    return "; ".join(reasons) or None


def write_junit(path: Path, summary: Mapping[str, Any], command: str, body: str) -> None:
    """Append one <testcase> to ``path`` (created if absent), atomically, under a lock.

    Appending lets several steps of one job share one report; the folder's
    lock keeps concurrent sessions from losing each other's test cases.
    """
    import xml.etree.ElementTree as ET

    from autoskillit_trace.fsutil import lock_within

    folder = path.parent
    lock = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        lock_within(lock, LOCK_WAIT_S, str(folder))
        root = None
        if path.exists():
            root = ET.parse(path).getroot()
            if root.tag == "testsuite":  # a single-suite file: wrap it
                wrapper = ET.Element("testsuites")
                wrapper.append(root)
                root = wrapper
            elif root.tag != "testsuites":
                raise ValueError(f"{path} is not a JUnit report (root <{root.tag}>)")
        if root is None:
            root = ET.Element("testsuites", name=SUITE)
        suite = next((s for s in root.findall("testsuite") if s.get("name") == SUITE), None)
        if suite is None:
            suite = ET.SubElement(root, "testsuite", name=SUITE)
            suite.set("timestamp", whole_seconds(summary.get("start_ts")) or "")
            suite.set("hostname", str(summary.get("hostname") or ""))
        duration = float(summary.get("duration_seconds") or 0.0)
        case = ET.SubElement(
            suite,
            "testcase",
            name=str(summary.get("skill_command") or summary.get("session_id")),
            classname=f"autoskillit_trace.{command}",
            time=f"{duration:.3f}",
        )
        failure = junit_failure(summary)
        if failure is not None:
            element = ET.SubElement(case, "failure", message=failure, type=str(summary["subtype"]))
            element.text = body
        else:
            ET.SubElement(case, "system-out").text = body
        _recount(suite)
        _recount_all(root)
        ET.indent(root)
        data = ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
        write_readable(path, data)
    finally:
        os.close(lock)


def _recount(suite: Any) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{sum(float(c.get('time') or 0) for c in cases):.3f}")


def _recount_all(root: Any) -> None:
    suites = root.findall("testsuite")
    for name in ("tests", "failures", "errors"):
        root.set(name, str(sum(int(s.get(name) or 0) for s in suites)))
    root.set("time", f"{sum(float(s.get('time') or 0) for s in suites):.3f}")
