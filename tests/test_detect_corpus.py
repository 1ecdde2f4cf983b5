"""Healthy work gives no anomaly at any interval; faulty work still gives its kind.

Each workload runs under the real ``autoskillit-trace run``: a shell loop of
2,000 commands, a parallel make, a multiprocessing pool, a pytest run, 30
parallel jobs, and a shell that exec's the real program after a while (so its
RSS baseline was a shell's).  Intervals span 0.01 s to 5 s; the long ones run
the whole corpus in one shell, long enough for a few snapshots.  Every session
is also replayed through ``detect`` to check that live and afterwards agree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import Session, clean_env, run_traced, start_traced, workload
from workloads import (
    c_project,
    exec_after,
    generated_suite,
    one_after_another,
    parallel_jobs,
    shell_loop,
)

from autoskillit_trace.detect import detect

pytestmark = pytest.mark.slow


def healthy(name: str, folder: Path) -> list[str]:
    """The argv of one healthy workload; its files go to ``folder``."""
    if name == "shell-loop":
        return shell_loop(2000)
    if name == "make":
        return c_project(folder / "project")
    if name == "pool":
        return workload("pool")
    if name == "pytest":
        return generated_suite(folder / "suite")
    if name == "parallel":
        return parallel_jobs(30)
    assert name == "exec"
    return exec_after(1.2, workload("pool"))


HEALTHY = ("shell-loop", "make", "pool", "pytest", "parallel", "exec")


def assert_clean(session: Session, min_snapshots: int) -> None:
    summary = session.summary
    assert summary["exit_code"] == 0, summary
    assert summary["snapshot_count"] >= min_snapshots
    found = [(a["kind"], a["pid"], a["detail"]) for a in session.anomalies]
    assert found == [], f"{session.summary['skill_command']}: {found}"
    assert summary["anomaly_count"] == 0
    assert detect(session.snapshots) == []


@pytest.mark.parametrize("interval", [0.01, 0.1])
@pytest.mark.parametrize("name", HEALTHY)
def test_healthy_work_gives_no_anomaly(name: str, interval: float, tmp_path: Path) -> None:
    traced = run_traced(tmp_path / "logs", healthy(name, tmp_path), interval=interval, timeout=120)
    assert traced.proc.returncode == 0, traced.stderr
    assert_clean(traced.session, min_snapshots=2)


@pytest.mark.parametrize(("interval", "seconds"), [(1.0, 0), (5.0, 11)])
def test_healthy_work_at_long_intervals(interval: float, seconds: float, tmp_path: Path) -> None:
    """One shell runs the corpus in turn, again until ``seconds`` have passed."""
    project = tmp_path / "project"
    build = c_project(project)
    steps = [
        shell_loop(2000),
        ["make", "-s", "-C", str(project), "clean"],
        build,
        workload("pool"),
        generated_suite(tmp_path / "suite"),
        parallel_jobs(30),
    ]
    command = one_after_another(*steps, seconds=seconds)
    traced = run_traced(tmp_path / "logs", command, interval=interval, timeout=180)
    assert traced.proc.returncode == 0, traced.stderr
    assert_clean(traced.session, min_snapshots=3)


# Each faulty workload, what it must give, and how long it must last at each interval:
# a zombie is flagged once unreaped for 1 s (2 s for persistent) and in 2 (3) snapshots.
FAULTY: dict[str, tuple[tuple[str, ...], dict[float, list[object]]]] = {
    "zombie": (
        ("zombie_detected", "zombie_persistent"),
        {0.01: ["zombie", 3], 1.0: ["zombie", 4.5]},
    ),
    "sigpending": (
        ("signals_pending",),
        {0.01: ["sigpending", 0.5, 2], 1.0: ["sigpending", 0.5, 3]},
    ),
    "grow": (("rss_growth",), {0.01: ["grow", 3, 4, 0.05], 1.0: ["grow", 6, 1, 0.05]}),
    "fds": (("fd_high",), {0.01: ["fds", 64, 60, 1.0], 1.0: ["fds", 64, 60, 1.5]}),
    "oom": (("oom_spike", "oom_critical"), {0.01: ["oom", 0.3, 1.0], 1.0: ["oom", 0.3, 1.5]}),
}


@pytest.mark.parametrize("interval", [0.01, 1.0])
def test_faulty_work_still_gives_its_kind(interval: float, tmp_path: Path) -> None:
    """All at once, side by side: each session must hold exactly its own kinds."""
    env = clean_env(tmp_path)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, (_, variants) in FAULTY.items():
        root = tmp_path / name / "logs"
        root.parent.mkdir()
        procs[name] = start_traced(root, workload(*variants[interval]), interval=interval, env=env)
    for proc in procs.values():
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode(errors="replace")
    for name, (kinds, _) in FAULTY.items():
        (folder,) = (tmp_path / name / "logs" / "sessions").iterdir()
        session = Session(folder)
        assert sorted(session.kinds) == sorted(kinds), (name, session.anomalies)
        assert session.anomalies == session.replayed()
