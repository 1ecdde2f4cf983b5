"""Runs of the same job, for real: the job key, a regression flagged when a run departs from
the usual, ``compare``, ``ls --job``, ``trend`` and the shell's completion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import Traced, clean_env, main_in_new_python, run_traced, tracer, workload

from autoskillit_trace.textfmt import TIMES

JOB = "nightly-build"
SCRIPT = """\
import sys, time
hoard = b"x" * ({mb} << 20)  # pages touched, not only reserved
time.sleep(1.0)
"""


def job_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """Duration and CPU floors out of reach: on a busy machine only memory is deterministic."""
    return clean_env(
        tmp_path,
        AUTOSKILLIT_LINUX_TRACING__REGRESSION_FLOOR_SECONDS="3600",
        AUTOSKILLIT_LINUX_TRACING__REGRESSION_FLOOR_CPU_SECONDS="3600",
        **extra,
    )


def cli(*args: object, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(tracer(*args), capture_output=True, text=True, env=env, timeout=60)


def run_job(log_root: Path, script: Path, mb: int, env: dict[str, str]) -> Traced:
    script.write_text(SCRIPT.format(mb=mb))
    traced = run_traced(log_root, [sys.executable, str(script)], interval=0.05, env=env)
    assert traced.proc.returncode == 0, traced.stderr
    return traced


@pytest.fixture(scope="module")
def regressed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], list[str]]:
    """Six runs of a job holding ~40 MB, then one holding three times as much.

    The log root, the environment, and the runs' folders, oldest first.
    """
    tmp = tmp_path_factory.mktemp("job")
    log_root = tmp / "logs"
    env = job_env(tmp, AUTOSKILLIT_TRACE_JOB=JOB)
    script = tmp / "job.py"
    names: list[str] = []
    for mb in [40] * 6 + [120]:
        before = {p.name for p in (log_root / "sessions").glob("*")}
        step = {"GITHUB_STEP_SUMMARY": str(tmp / "step.md")} if mb == 120 else {}
        run_job(log_root, script, mb, {**env, **step})
        (new,) = {p.name for p in (log_root / "sessions").glob("*")} - before
        names.append(new)
    return log_root, env, names


@pytest.mark.slow
def test_the_run_with_three_times_the_memory_is_the_one_regression(
    regressed: tuple[Path, dict[str, str], list[str]],
) -> None:
    log_root, _, names = regressed
    index = [json.loads(line) for line in (log_root / "sessions.jsonl").read_text().splitlines()]
    assert [r["dir_name"] for r in index] == names
    assert {r["job"] for r in index} == {JOB}
    for name in names[:-1]:
        summary = json.loads((log_root / "sessions" / name / "summary.json").read_text())
        assert "regression" not in summary["anomalies_by_kind"], name
        assert "regression_metrics" not in summary
    folder = log_root / "sessions" / names[-1]
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["job"] == JOB and summary["anomalies_by_kind"]["regression"] == 1
    assert summary["regression_metrics"] == "peak_tree_rss_kb"
    (regression,) = [
        json.loads(line)
        for line in (folder / "anomalies.jsonl").read_text().splitlines()
        if json.loads(line)["kind"] == "regression"
    ]
    detail = regression["detail"]
    assert regression["severity"] == "warning"
    assert detail["metric"] == "peak_tree_rss_kb" and detail["runs"] == 6 and detail["job"] == JOB
    assert detail["value"] > 2 * detail["median"] and detail["median"] > 40 * 1024
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "anomaly" and e["kind"] == "regression" for e in events)


def test_runs_shorter_than_a_snapshot_are_compared_on_their_exact_peak(
    tmp_path: Path, log_root: Path
) -> None:
    """At the default 5 s a run of a fraction of a second is sampled once, before its exec:
    its memory is the kernel's exact peak, and 200 MB against the usual 40 is flagged."""
    env = job_env(tmp_path, AUTOSKILLIT_TRACE_JOB="short-job")
    script = tmp_path / "short.py"
    for mb in [40] * 5 + [200]:
        script.write_text(f"hoard = b'x' * ({mb} << 20)\n")  # and gone at once
        traced = run_traced(log_root, [sys.executable, str(script)], interval=None, env=env)
        assert traced.proc.returncode == 0, traced.stderr
    sessions = sorted(traced.sessions(), key=lambda s: s.summary["start_ts"])
    summaries = [s.summary for s in sessions]
    assert [s["snapshot_count"] for s in summaries] == [1] * 6
    assert all(s["peak_tree_rss_kb"] < 40 << 10 for s in summaries)  # what the snapshot saw
    assert [s["anomalies_by_kind"].get("regression", 0) for s in summaries] == [0] * 5 + [1]
    (regression,) = [a for a in sessions[-1].anomalies if a["kind"] == "regression"]
    detail = regression["detail"]
    assert detail["metric"] == "peak_tree_rss_kb" and detail["runs"] == 5
    assert detail["value"] >= 200 << 10 > 40 << 10 < detail["median"] < 100 << 10
    usual = cli("compare", sessions[-1].folder.name, "--json", "--log-dir", log_root, env=env)
    assert usual.returncode == 0, usual.stderr
    largest = {f["field"]: f for f in json.loads(usual.stdout)["figures"]}["max_process_rss_kb"]
    assert largest["ratio"] > 2  # compare shows the figure the regression was found on


@pytest.mark.slow
def test_show_compare_trend_and_ls_show_the_regression(
    regressed: tuple[Path, dict[str, str], list[str]],
) -> None:
    log_root, env, names = regressed
    markdown = cli("show", names[-1], "--markdown", "--log-dir", log_root, env=env).stdout
    assert f"{TIMES} the usual peak memory of this job (median " in markdown
    assert "over 6 runs)" in markdown
    step = (log_root.parent / "step.md").read_text()  # the step summary of the last run
    assert f"{TIMES} the usual peak memory of this job (median " in step

    pair = cli("compare", names[-2], names[-1], "--json", "--log-dir", log_root, env=env)
    assert pair.returncode == 0, pair.stderr
    record = json.loads(pair.stdout)
    figures = {f["field"]: f for f in record["figures"]}
    assert figures["peak_tree_rss_kb"]["ratio"] > 2
    assert record["anomalies_by_kind"]["regression"] == {"a": 0, "b": 1}
    assert record["a"]["dir_name"] == names[-2] and record["b"]["dir_name"] == names[-1]

    usual = cli("compare", names[-1], "--log-dir", log_root, env=env)
    assert usual.returncode == 0, usual.stderr
    assert "median of 6 runs" in usual.stdout and "regression" in usual.stdout
    tree = next(line for line in usual.stdout.splitlines() if line.startswith("Peak tree RSS"))
    assert float(tree.split()[-1].rstrip(TIMES)) > 2

    trend = cli("trend", JOB, "--log-dir", log_root, env=env)
    assert trend.returncode == 0, trend.stderr
    lines = trend.stdout.splitlines()
    memory = next(i for i, line in enumerate(lines) if "peak memory" in line)
    assert lines[memory + 1].rstrip().endswith("^") and lines[memory + 1].count("^") == 1
    assert f"  {names[-1]}: peak_tree_rss_kb" in lines
    assert cli("ls", "--job", JOB, "--trend", "--log-dir", log_root, env=env).stdout == trend.stdout

    listed = cli("ls", "--job", JOB, "--json", "--log-dir", log_root, env=env).stdout
    assert [json.loads(line)["dir_name"] for line in listed.splitlines()] == names[::-1]
    assert cli("ls", "--job", "other", "--json", "--log-dir", log_root, env=env).stdout == ""


@pytest.mark.slow
def test_session_ids_and_job_names_complete(
    regressed: tuple[Path, dict[str, str], list[str]],
) -> None:
    log_root, env, names = regressed

    def complete(*words: str) -> list[str]:
        line = ["autoskillit-trace", *words]
        proc = subprocess.run(
            tracer(),
            capture_output=True,
            text=True,
            env={
                **env,
                "_AUTOSKILLIT_TRACE_COMPLETE": "bash_complete",
                "COMP_WORDS": " ".join(line),
                "COMP_CWORD": str(len(line) - 1),
            },
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        return [item.split(",", 1)[1] for item in proc.stdout.splitlines() if item]

    root = str(log_root)
    assert complete("show", "--log-dir", root, "") == names[::-1]
    assert complete("compare", "--log-dir", root, names[0], names[1][:12]) == [names[1]]
    assert complete("trend", "--log-dir", root, "nightly") == [JOB]
    assert complete("ls", "--log-dir", root, "--job", "") == [JOB]
    assert complete("trend", "--log-dir", root, "zzz") == []
    source = subprocess.run(
        tracer(),
        capture_output=True,
        text=True,
        env={**env, "_AUTOSKILLIT_TRACE_COMPLETE": "bash_source"},
    )
    assert "_autoskillit_trace_completion" in source.stdout


def test_the_job_key_given_and_derived(tmp_path: Path, log_root: Path) -> None:
    env = clean_env(tmp_path)
    for run_id in ("123456", "987654"):
        run_traced(log_root, workload("echo", "--run", run_id), env=env)
    run_traced(log_root, workload("echo", "x"), extra=("--job", "by hand"), env=env)
    env_job = clean_env(
        tmp_path, AUTOSKILLIT_TRACE_JOB="from env", AUTOSKILLIT_LINUX_TRACING__JOB="setting"
    )
    run_traced(log_root, workload("echo", "x"), env=env_job)
    run_traced(log_root, workload("echo", "x"), extra=("--job", "option"), env=env_job)
    jobs = [
        json.loads(line)["job"] for line in (log_root / "sessions.jsonl").read_text().splitlines()
    ]
    assert jobs[0] == jobs[1] and jobs[0].endswith("workloads.py echo --run <n>")
    assert jobs[2:] == ["by hand", "from env", "option"]
    shown = cli("config", "show", "--json", env=env_job).stdout
    (row,) = [r for r in json.loads(shown)["settings"] if r["key"] == "linux_tracing.job"]
    assert (row["value"], row["source"]) == ("from env", "environment AUTOSKILLIT_TRACE_JOB")


def test_a_fault_in_the_comparison_changes_nothing_for_the_command(
    tmp_path: Path, log_root: Path
) -> None:
    env = clean_env(tmp_path)
    argv = ["run", "--log-dir", str(log_root), "--job", "j", "--", *workload("exit", 3)]
    first = main_in_new_python("", argv, "raise SystemExit(status)", env)
    assert first.returncode == 3, first.stderr
    broken = (
        "import autoskillit_trace.regress as regress\n"
        "def boom(*args):\n"
        "    raise RuntimeError('boom')\n"
        "regress.comparable = lambda record: True\n"
        "regress.regressions = boom"
    )
    second = main_in_new_python(broken, argv, "raise SystemExit(status)", env)
    assert second.returncode == 3
    assert "cannot compare the session with its job's runs" in second.stderr
    assert "RuntimeError('boom')" in second.stderr
    index = [json.loads(line) for line in (log_root / "sessions.jsonl").read_text().splitlines()]
    assert [r["job"] for r in index] == ["j", "j"] and index[1]["exit_code"] == 3


def test_a_completion_from_an_index_it_cannot_read_is_silent(tmp_path: Path) -> None:
    """Whatever goes wrong, completing prints nothing into the command line being typed."""
    root = tmp_path / "logs"
    (root / "sessions.jsonl").mkdir(parents=True)  # a folder where the index should be
    for words in (["show", ""], ["trend", ""], ["ls", "--job", ""]):
        line = ["autoskillit-trace", words[0], "--log-dir", str(root), *words[1:]]
        env = {
            **clean_env(tmp_path),
            "_AUTOSKILLIT_TRACE_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(line),
            "COMP_CWORD": str(len(line) - 1),
        }
        proc = subprocess.run(tracer(), capture_output=True, text=True, env=env, timeout=60)
        assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, "", ""), words


def test_compare_says_a_damaged_summary_is_damaged(log_root: Path, tmp_path: Path) -> None:
    """Not "no summary yet", which would send the user to wait for a session that ended."""
    folder = run_traced(log_root, ["true"]).session.folder
    (folder / "summary.json").write_text("{")
    done = cli("compare", folder.name, folder.name, "--log-dir", log_root, env=clean_env(tmp_path))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"autoskillit-trace: error: {folder / 'summary.json'} cannot be read as a summary "
        "(prune rebuilds a damaged one)\n"
    )
