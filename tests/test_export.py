"""Exports of a finished session: the list of targets and how the session walks it.

Each target has its own test file (test_export_<target>.py); the Prometheus
tests there start the real prometheus, prometheus-pushgateway and
prometheus-node-exporter (Debian packages) on loopback ports and ask
Prometheus' HTTP API for what real sessions pushed or left for scraping.
"""

from __future__ import annotations

import os
import stat
from importlib import import_module
from pathlib import Path

import pytest
from helpers import clean_env, modules_run_imports, run_traced, workload

from autoskillit_trace.export import write_readable
from autoskillit_trace.export_targets import TARGETS


def test_every_target_has_its_module() -> None:
    for target in TARGETS:
        module = import_module(f"autoskillit_trace.export.{target.module}")
        assert callable(module.where) and callable(module.send), target.module


def test_bad_label_is_one_line_and_exit_2(tmp_path: Path, log_root: Path) -> None:
    for label, problem in (("__x=1", "reserved by Prometheus"), ("a-b=1", "[a-zA-Z_]")):
        traced = run_traced(log_root, workload("exit", 0), extra=("--label", label))
        assert traced.proc.returncode == 2
        assert problem in traced.stderr and len(traced.stderr.strip().splitlines()) == 1
    env = clean_env(tmp_path, AUTOSKILLIT_LINUX_TRACING__LABELS="ok=1,9bad=2")
    traced = run_traced(log_root, workload("exit", 0), env=env)
    assert traced.proc.returncode == 2
    assert "linux_tracing.labels" in traced.stderr and "'9bad'" in traced.stderr


def test_run_imports_no_export_code_unless_configured(log_root: Path, env: dict[str, str]) -> None:
    exporting = {
        "autoskillit_trace.export", "autoskillit_trace.metrics", "urllib.request",
        "xml.etree.ElementTree", "autoskillit_trace.views",
    }  # fmt: skip
    assert modules_run_imports(log_root, env, exporting) == []


def test_every_failed_export_is_one_warning_and_the_status_stays(
    tmp_path: Path, log_root: Path
) -> None:
    step = tmp_path / "no-such-dir" / "summary.md"
    env = clean_env(tmp_path, GITHUB_STEP_SUMMARY=str(step))
    extra = (
        "--textfile-dir", tmp_path / "missing",
        "--junit", tmp_path / "missing" / "junit.xml",
        "--pushgateway", "http://bob:s3cret@127.0.0.1:9",
    )  # fmt: skip
    traced = run_traced(log_root, workload("echo", "out"), extra=extra, env=env)
    assert traced.proc.returncode == 0
    assert traced.stdout == "out\n"
    warnings = [line for line in traced.stderr.splitlines() if '"export failed"' in line]
    assert len(warnings) == 4, traced.stderr
    assert "s3cret" not in traced.stderr and "bob:[REDACTED]@127.0.0.1:9" in traced.stderr
    assert traced.session.summary["success"] is True


def test_a_written_file_is_readable_by_others_and_leaves_no_temporary(tmp_path: Path) -> None:
    """node_exporter and CI tools read as other users; the store's own files stay 0600."""
    (tmp_path / "taken").mkdir()
    umask = os.umask(0o022)
    try:
        write_readable(tmp_path / "a.prom", b"x")
        write_readable(tmp_path / "a.prom", b"y")
        with pytest.raises(IsADirectoryError):
            write_readable(tmp_path / "taken", b"z")
    finally:
        os.umask(umask)
    assert (tmp_path / "a.prom").read_bytes() == b"y"
    assert stat.S_IMODE((tmp_path / "a.prom").stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["a.prom", "taken"]
