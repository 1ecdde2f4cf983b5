"""A run against its job's usual: the comparison, the compare record and the trend, on data."""

from __future__ import annotations

from typing import Any

import pytest

from autoskillit_trace.comparison import baseline_record, compare, compare_lines, process_changes
from autoskillit_trace.regress import (
    CPU,
    PEAK_MEMORY,
    Thresholds,
    add_to_summary,
    anomaly_record,
    median,
    regressions,
    value_of,
)
from autoskillit_trace.textfmt import TIMES
from autoskillit_trace.trend import trend_lines, trend_record
from autoskillit_trace.views import markdown_lines, regression_sentence

MIB = 1024


def run(rss_mb: float = 50, seconds: float = 0.5, **extra: Any) -> dict[str, Any]:
    return {
        "success": True,
        "subtype": "success",
        "duration_seconds": seconds,
        "peak_tree_rss_kb": rss_mb * MIB,
        **extra,
    }


HISTORY = [run(50 + i % 3) for i in range(20)]


def test_three_times_the_memory_is_one_regression() -> None:
    found = regressions(run(150), HISTORY, Thresholds())
    assert len(found) == 1
    detail = found[0]
    assert detail["metric"] == "peak_tree_rss_kb" and detail["runs"] == 20
    assert detail["median"] == 51 * MIB and detail["value"] == 150 * MIB
    assert detail["ratio"] == pytest.approx(150 / 51, abs=0.01)
    assert detail["mad"] == 1 * MIB  # the spread: median absolute deviation


def test_usual_runs_are_no_regression() -> None:
    assert regressions(run(52), HISTORY, Thresholds()) == []
    assert regressions(run(10), HISTORY, Thresholds()) == []  # better is never flagged


def test_both_the_factor_and_the_floor_must_be_passed() -> None:
    tiny = [run(1, seconds=0.001) for _ in range(10)]
    # 4x the duration, but 3 ms more: below the 1 s floor.
    assert regressions(run(1, seconds=0.004), tiny, Thresholds()) == []
    # 30 MiB more is 31x the memory, still below the 32 MiB floor.
    assert regressions(run(31), tiny, Thresholds()) == []
    assert [d["metric"] for d in regressions(run(34), tiny, Thresholds())] == ["peak_tree_rss_kb"]
    # 1.4x is below the factor, however large the difference.
    big = [run(1000) for _ in range(10)]
    assert regressions(run(1400), big, Thresholds()) == []
    assert regressions(run(1400), big, Thresholds(factor=1.3))


def test_too_few_runs_or_no_comparison_asked() -> None:
    assert regressions(run(500), HISTORY[:4], Thresholds()) == []
    assert regressions(run(500), HISTORY[:5], Thresholds())
    assert regressions(run(500), HISTORY, Thresholds(runs=0)) == []
    assert regressions(run(500), HISTORY[:3], Thresholds(runs=3))  # needs min(5, 3)


def test_only_successful_runs_and_the_newest_n_count() -> None:
    failed = [run(500, success=False, subtype="failed") for _ in range(10)]
    assert regressions(run(150), failed + HISTORY, Thresholds())  # failed runs are no usual
    old = [run(500) for _ in range(20)]
    assert regressions(run(150), HISTORY + old, Thresholds())  # only the newest 20


def test_a_run_shorter_than_a_snapshot_is_compared_on_its_exact_peak() -> None:
    """Sampled before its exec, a short run's tree peak is the wrapper's fork; the kernel's
    exact peak of its largest process is what it held (unless that is the wrapper's size)."""

    def short(rss_mb: float) -> dict[str, Any]:
        exact = {"max_process_rss_kb": rss_mb * MIB, "max_process_rss_floor_kb": 20 * MIB}
        return run(3, seconds=0.1, **exact)

    history = [short(50) for _ in range(6)]
    assert value_of(short(300), PEAK_MEMORY) == 300 * MIB
    (detail,) = regressions(short(300), history, Thresholds())
    assert detail["metric"] == "peak_tree_rss_kb" and detail["median"] == 50 * MIB
    assert regressions(short(52), history, Thresholds()) == []
    at_floor = run(3, max_process_rss_kb=20 * MIB, max_process_rss_floor_kb=20 * MIB)
    assert value_of(at_floor, PEAK_MEMORY) == 3 * MIB  # the kernel's figure is the wrapper's
    sampled_more = run(400, max_process_rss_kb=300 * MIB, max_process_rss_floor_kb=20 * MIB)
    assert value_of(sampled_more, PEAK_MEMORY) == 400 * MIB  # the tree's sum, when seen


def test_a_metric_missing_on_either_side_is_skipped() -> None:
    assert regressions({"success": True, "duration_seconds": 9.0}, HISTORY, Thresholds()) == [
        {**regressions(run(50, 9.0), HISTORY, Thresholds())[0]}
    ]
    no_memory = [{"success": True, "subtype": "success", "duration_seconds": 0.5}] * 10
    assert regressions(run(500), no_memory, Thresholds()) == []


def test_cpu_is_the_sum_of_the_exact_totals_when_both_sides_have_them() -> None:
    assert value_of({"cpu_user_seconds": 1.5, "cpu_system_seconds": 0.5}, CPU) == 2.0
    assert value_of({"cpu_user_seconds": 1.5}, CPU) is None
    past = [run(cpu_user_seconds=2.0, cpu_system_seconds=0.2) for _ in range(6)]
    found = regressions(run(cpu_user_seconds=8.0, cpu_system_seconds=1.0), past, Thresholds())
    assert [(d["metric"], d["value"], d["median"]) for d in found] == [("cpu_seconds", 9.0, 2.2)]
    assert regressions(run(), past, Thresholds()) == []  # none in this run: not compared


def test_the_anomaly_and_the_summary_counts() -> None:
    detail = regressions(run(150), HISTORY, Thresholds())[0]
    record = anomaly_record(detail, "2026-11-30T00:00:00+00:00", 42, "job")
    assert record["kind"] == "regression" and record["severity"] == "warning"
    assert record["detail"]["job"] == "job" and record["seq"] is None
    summary = {"anomaly_count": 2, "anomalies_by_kind": {"rss_growth": 2}}
    add_to_summary(summary, [detail])
    assert summary == {
        "anomaly_count": 3,
        "anomalies_by_kind": {"regression": 1, "rss_growth": 2},
        "regression_metrics": "peak_tree_rss_kb",
    }
    assert regression_sentence(record) == (
        f"2.9{TIMES} the usual peak memory of this job (median 51.0 MiB over 20 runs)"
    )
    lines = markdown_lines({"success": True, "skill_command": "x"}, [record])
    assert (
        f"⚠️ 2.9{TIMES} the usual peak memory of this job (median 51.0 MiB over 20 runs)  " in lines
    )


def test_median() -> None:
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([4.0, 1.0, 2.0, 3.0]) == 2.5


def test_compare_two_runs_and_a_run_against_the_usual() -> None:
    a = {**run(50), "dir_name": "a", "anomaly_count": 0, "anomalies_by_kind": {}}
    b = {**run(150), "dir_name": "b", "anomaly_count": 1, "anomalies_by_kind": {"regression": 1}}
    record = compare(a, b)
    figures = {f["field"]: f for f in record["figures"]}
    assert figures["peak_tree_rss_kb"]["ratio"] == 3.0
    assert "cpu_user_seconds" not in figures  # exact totals only when recorded
    assert record["anomalies_by_kind"] == {"regression": {"a": 0, "b": 1}}
    text = "\n".join(compare_lines(record, 120))
    assert f"3.00{TIMES}" in text and "regression" in text
    usual = baseline_record(HISTORY, "job")
    assert usual["peak_tree_rss_kb"] == 51 * MIB and usual["runs"] == 20
    against = compare(usual, b)
    assert against["anomalies_by_kind"] == {"regression": {"a": None, "b": 1}}


def test_processes_are_matched_by_name_and_command_line() -> None:
    def proc(comm: str, cmdline: str, rss: float, cpu: float) -> dict[str, Any]:
        return {"pid": 1, "comm": comm, "cmdline": cmdline, "peak_rss_kb": rss, "cpu_seconds": cpu}

    a = {"top_processes": [proc("cc", "cc a.c", 100, 1.0), proc("ld", "ld x", 50, 0.1)]}
    b = {
        "top_processes": [
            proc("cc", "cc a.c", 100, 1.0),
            proc("ld", "ld x", 400, 0.1),
            proc("py", "py t", 10, 5.0),
        ]
    }
    changes = process_changes(a, b)
    assert [(c["comm"], c["a_peak_rss_kb"], c["b_peak_rss_kb"]) for c in changes] == [
        ("py", None, 10.0),
        ("ld", 50.0, 400.0),
    ]
    assert process_changes(a, {}) == []


def test_processes_of_two_runs_match_across_temporary_paths_and_ids() -> None:
    """Runs of one job name their temporary files differently: the same process all the same."""

    def proc(cmdline: str, rss: float) -> dict[str, Any]:
        return {"pid": 1, "comm": "cc1", "cmdline": cmdline, "peak_rss_kb": rss, "cpu_seconds": 1}

    a = {"top_processes": [proc("cc1 main.c -o /tmp/tmpab12cd/main.s", 100)]}
    b = {"top_processes": [proc("cc1 main.c -o /tmp/tmpzz99yy/main.s", 300)]}
    (change,) = process_changes(a, b)
    assert (change["a_peak_rss_kb"], change["b_peak_rss_kb"]) == (100.0, 300.0)
    assert change["cmdline"] == "cc1 main.c -o /tmp/tmpzz99yy/main.s"  # B's, as recorded


def test_trend_marks_the_flagged_runs() -> None:
    runs = [{**r, "dir_name": f"s{i}"} for i, r in enumerate(HISTORY[:6])]
    runs.append({**run(150), "dir_name": "s6", "regression_metrics": "peak_tree_rss_kb"})
    record = trend_record("job", runs)
    memory = record["metrics"]["peak_tree_rss_kb"]
    assert memory["latest"] == 150 * MIB and memory["median"] == 51 * MIB
    assert record["regressions"] == [{"session": "s6", "metrics": ["peak_tree_rss_kb"]}]
    lines = trend_lines(record, runs, 100)
    spark = next(line for line in lines if "peak memory" in line)
    assert "█" in spark and "median 51.0 MiB" in spark
    marks = lines[lines.index(spark) + 1]
    assert marks.strip() == "^" and marks.rstrip().endswith("^")
    assert any("CPU" in line and "not recorded" in line for line in lines)
