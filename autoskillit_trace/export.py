"""Sending a finished session beyond this machine: Pushgateway, textfile, JUnit, step summary.

Every function here is I/O and may fail; the caller turns an exception into
one warning (a tracing fault) and the command's exit status stays its own.
Imported only when an export is configured: ``run`` starts without it.
"""

from __future__ import annotations

import base64
import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

PUSH_TIMEOUT = 2.0  # seconds: the longest an unreachable gateway may delay the exit
PUSH_JOB = "autoskillit_trace"
MAX_SLOTS = 64
SLOTS_DIR = ".slots"


# -- session slots ---------------------------------------------------------------


def acquire_slot(root: str) -> tuple[int, int] | None:
    """The lowest free slot number on this log root, held (flock) until the fd is closed.

    Concurrent sessions get different slots, one after another reuse slot 0:
    the number of slots, hence of Pushgateway groups and textfiles, is the
    highest concurrency ever seen, not the number of sessions.  Returns
    (slot, fd), or None when no slot could be had.
    """
    import fcntl

    folder = os.path.join(root, SLOTS_DIR)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(os.path.join(folder, str(slot)), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return slot, fd
    return None


# -- Pushgateway -----------------------------------------------------------------


def _segment(name: str, value: str) -> str:
    """One ``/name@base64/value`` path segment: safe for any value, '/' and empty included."""
    if value == "":
        return f"/{name}@base64/="
    encoded = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    return f"/{name}@base64/{encoded}"


def grouping_key(labels: Mapping[str, str]) -> dict[str, str]:
    """job (the user's ``job`` label, else autoskillit_trace), instance (host), then the rest.

    The whole label set is the group, so a push replaces exactly the previous
    session of the same command, labels and slot.
    """
    key = {
        "job": labels.get("job") or PUSH_JOB,
        "instance": labels.get("instance") or labels.get("host", ""),
    }
    key.update((k, v) for k, v in labels.items() if k not in key and v != "")
    return key


def push_url(base: str, key: Mapping[str, str]) -> str:
    path = "".join(_segment(name, value) for name, value in key.items())
    return base.rstrip("/") + "/metrics" + path


def push(base: str, text: str, labels: Mapping[str, str], timeout: float = PUSH_TIMEOUT) -> None:
    """PUT the session's metrics to its group, within ``timeout`` seconds in all.

    urllib's timeout bounds each socket operation, not name resolution nor a
    server that answers a byte at a time; the request therefore runs in a
    daemon thread that the wrapper stops waiting for after ``timeout``.
    """
    import threading

    failure: list[BaseException] = []

    def send() -> None:
        try:
            _put(base, text, labels, timeout)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=send, name="pushgateway", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if failure:
        raise failure[0]


def _put(base: str, text: str, labels: Mapping[str, str], timeout: float) -> None:
    import urllib.request

    key = grouping_key(labels)
    body = text.encode()
    request = urllib.request.Request(
        push_url(base, key),
        data=body,
        method="PUT",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


# -- node_exporter textfile collector ------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def textfile_name(labels: Mapping[str, str]) -> str:
    """``autoskillit_trace_<command>_<labels...>.prom``: one file per command, labels and slot."""
    parts = [labels.get("command", "unknown")]
    parts += [f"{k}-{v}" for k, v in sorted(labels.items()) if k != "command" and k != "host"]
    stem = _UNSAFE.sub("_", "_".join(parts)).strip("._")[:180] or "session"
    return f"autoskillit_trace_{stem}.prom"


def write_textfile(folder: Path, text: str, labels: Mapping[str, str]) -> Path:
    """Write atomically: node_exporter never reads a half-written file."""
    target = folder / textfile_name(labels)
    _atomic_write(target, text.encode())
    return target


def _atomic_write(target: Path, data: bytes) -> None:
    """A temporary in the same folder, fsynced, then renamed over ``target``."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, target)
    except OSError:
        os.unlink(tmp)
        raise


# -- JUnit XML ----------------------------------------------------------------------

CRITICAL = frozenset({"oom_critical", "zombie_persistent"})


def junit_failure(summary: Mapping[str, Any]) -> str | None:
    """Why the session counts as a failed test case, or None."""
    reasons = []
    if not summary.get("success"):
        reasons.append(f"{summary.get('subtype')}: {summary.get('termination_reason')}")
    by_kind = summary.get("anomalies_by_kind") or {}
    critical = sorted(k for k in by_kind if k in CRITICAL)
    if critical:
        reasons.append("critical anomalies: " + ", ".join(critical))
    return "; ".join(reasons) or None


def write_junit(path: Path, summary: Mapping[str, Any], command: str, body: str) -> None:
    """Append one <testcase> to ``path`` (created if absent), atomically, under a lock.

    Appending lets several steps of one job share one report; the folder's
    lock keeps concurrent sessions from losing each other's test cases.
    """
    import fcntl
    import xml.etree.ElementTree as ET

    folder = path.parent
    lock = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
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
            root = ET.Element("testsuites", name="autoskillit-trace")
        suite = next((s for s in root.findall("testsuite") if s.get("name") == "autoskillit-trace"),
                     None)  # fmt: skip
        if suite is None:
            suite = ET.SubElement(root, "testsuite", name="autoskillit-trace")
            suite.set("timestamp", str(summary.get("start_ts") or "")[:19])
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
        _atomic_write(path, data)
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


# -- GitHub step summary --------------------------------------------------------------


def append_step_summary(path: str, markdown: str) -> None:
    """Append to $GITHUB_STEP_SUMMARY in one write, as GitHub expects of each step."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, markdown.encode())
    finally:
        os.close(fd)
