"""``make bench``: what the wrapper costs, side by side with what users would use instead.

Every figure is taken from whole processes.  Comparisons alternate the two
commands in one run and report ratios, because this machine is shared and
absolute times drift.  Prints a table (figure, value, target, met) and writes
the same as JSON to bench-results.json.  Not part of the test suite.

    python scripts/bench.py [--quick] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# As users run it: the console script (``python -m`` would add runpy's ~5 ms).
_SCRIPT = BIN / "autoskillit-trace"
TRACE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "autoskillit_trace"]
TREE = [sys.executable, str(ROOT / "scripts" / "bench_tree.py")]
FLOOR = [sys.executable, str(ROOT / "scripts" / "bench_floor.py")]
# The tests' misbehaving programs (a hostile command line, a gateway that never answers).
WORKLOAD = [sys.executable, str(ROOT / "tests" / "workloads.py")]


def tool(name: str) -> list[str] | None:
    path = BIN / name
    if path.exists():
        return [str(path)]
    found = shutil.which(name)
    return [found] if found else None


PSRECORD = tool("psrecord")
MPROF = tool("mprof")


# Linux carries ru_maxrss over fork and exec from the parent's memory, so a
# child of this (large) process would report at least our own RSS.  A small
# launcher forks the measured command and reports its wait4 figures instead.
LAUNCHER = """
import json, os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as handle:
    json.dump([time.perf_counter() - started, usage.ru_utime + usage.ru_stime,
               usage.ru_maxrss, os.waitstatus_to_exitcode(status)], handle)
"""


def wait4(argv: list[str], env: dict[str, str], **popen: object) -> tuple[float, float, int, int]:
    """Run to completion: (wall s, cpu s of it and its waited-for children, maxrss KiB, status)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        launcher = [sys.executable, "-S", "-c", LAUNCHER, out.name, *argv]
        subprocess.run(launcher, env=env, stdin=subprocess.DEVNULL, **popen)  # type: ignore[call-overload]
        wall, cpu, maxrss, status = json.loads(Path(out.name).read_text())
    return wall, cpu, maxrss, status


def traced(logs: Path, interval: float, command: list[str]) -> list[str]:
    """``autoskillit-trace run`` around ``command``, quiet, into ``logs``."""
    return [*TRACE, "run", "--log-dir", str(logs), "--interval", str(interval), "-q", "--",
            *command]  # fmt: skip


def quiet() -> dict[str, object]:
    return {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


class Bench:
    def __init__(self, work: Path, quick: bool) -> None:
        self.work = work
        self.quick = quick
        self.rows: list[dict[str, object]] = []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOSKILLIT")}
        self.env.update(
            AUTOSKILLIT_LINUX_TRACING__LOG_DIR=str(work / "logs"),
            XDG_CONFIG_HOME=str(work / "config"),
            MPLBACKEND="Agg",
        )

    def row(self, figure: str, value: str, target: str, met: bool | None, **data: object) -> None:
        self.rows.append({"figure": figure, "value": value, "target": target, "met": met, **data})
        mark = {True: "yes", False: "NO", None: "-"}[met]
        print(f"{figure:<34} {value:<44} {target:<30} {mark}", flush=True)

    def alternate(
        self, a: list[str], b: list[str], n: int, env: dict[str, str] | None = None
    ) -> tuple[float, float]:
        """Median wall times of ``a`` and ``b``, run alternately."""
        env = self.env if env is None else env
        ta: list[float] = []
        tb: list[float] = []
        for _ in range(n):
            ta.append(wait4(a, env, **quiet())[0])
            tb.append(wait4(b, env, **quiet())[0])
        return statistics.median(ta), statistics.median(tb)

    # -- figures ------------------------------------------------------------

    def startup(self) -> None:
        self._startup("start-up", self.env)

    def startup_full_store(self) -> None:
        """The same, with the store at its default retention limit (500 finished sessions).

        Every run applies retention and looks for crashed sessions; that must
        not cost in proportion to the store's size.
        """
        root = self.work / "full-store"
        _make_store(root, 500)
        env = {**self.env, "AUTOSKILLIT_LINUX_TRACING__LOG_DIR": str(root)}
        self._startup("start-up, store of 500 sessions", env)

    def _startup(self, figure: str, env: dict[str, str]) -> None:
        ours = [*TRACE, "run", "--", "true"]
        n = 15 if self.quick else 40
        if PSRECORD is None:
            wall = statistics.median(wait4(ours, env, **quiet())[0] for _ in range(n))
            self.row(figure, f"{wall * 1000:.1f} ms (psrecord missing)", "ratio <= 0.8", None)
            return
        a, b = self.alternate(ours, [*PSRECORD, "true"], n, env)
        self.row(
            figure,
            f"{a * 1000:.1f} ms vs psrecord {b * 1000:.1f} ms = {a / b:.2f}",
            "ratio <= 0.8",
            a / b <= 0.8,
            ours_ms=a * 1000,
            psrecord_ms=b * 1000,
            ratio=a / b,
        )

    def exit_latency(self) -> None:
        n = 5 if self.quick else 11
        slow = [*TRACE, "run", "--interval", "5", "--", "sleep", "0.2"]
        fast = [*TRACE, "run", "--interval", "0.05", "--", "sleep", "0.2"]
        a, b = self.alternate(slow, fast, n)
        peers = []
        if PSRECORD is not None:
            peers.append(
                (
                    "psrecord",
                    wait4([*PSRECORD, "sleep 0.2", "--interval", "5"], self.env, **quiet())[0],
                )
            )
        if MPROF is not None:
            wall = wait4(
                [*MPROF, "run", "-T", "5", "-o", str(self.work / "mprof.dat"), "sleep", "0.2"],
                self.env,
                **quiet(),
            )[0]
            peers.append(("mprof", wall))
        peer_text = ", ".join(f"{name} {wall:.2f} s" for name, wall in peers)
        self.row(
            "exit latency (--interval 5)",
            f"{a:.3f} s vs {b:.3f} s at 0.05 (+{a - b:.3f} s); {peer_text}",
            "<= 0.2 s above --interval 0.05",
            a - b <= 0.2,
            interval5_s=a,
            interval005_s=b,
            peers=dict(peers),
        )

    def sample_cost(self) -> None:
        """CPU per snapshot: (wrapper and tree) minus the same tree run bare, over snapshots.

        Medians of alternating rounds (bare, ours, psrecord), as one run of
        each drifts by 10-20 % with the machine's load (a lone command's
        rounds spread over 560-760 us; five rounds steady the median).
        """
        seconds = 3.0 if self.quick else 8.0  # start-up is amortized over the snapshots
        rounds = 1 if self.quick else 5
        interval = 0.05
        for procs in (1, 20, 200):
            tree = [*TREE, str(procs), str(seconds)]
            ours: list[float] = []
            theirs: list[float] = []
            snaps = 0
            for n in range(rounds):
                bare_cpu = wait4(tree, self.env, **quiet())[1]
                cpu, snaps = self._traced_run(tree, interval, f"tree-{procs}-{n}")
                ours.append((cpu - bare_cpu) / snaps)
                if PSRECORD is not None:
                    theirs.append(self._psrecord_per_snapshot(tree, interval, bare_cpu, procs, n))
            our_per_snap = statistics.median(ours)
            text = f"{our_per_snap * 1e6:.0f} us/snapshot, {our_per_snap * 1e6 / procs:.0f} us/proc"
            met_proc = our_per_snap / procs <= 70e-6 or procs == 1
            data: dict[str, object] = {
                "procs": procs,
                "ours_us": our_per_snap * 1e6,
                "ours_us_rounds": [round(x * 1e6) for x in ours],
                "snapshots": snaps,
            }
            met: bool | None = met_proc
            if theirs:
                their_per_snap = statistics.median(theirs)
                ratio = our_per_snap / their_per_snap
                text += f"; psrecord {their_per_snap * 1e6:.0f} us = {ratio:.3f}"
                met = met_proc and ratio <= 0.25
                data.update(
                    psrecord_us=their_per_snap * 1e6,
                    psrecord_us_rounds=[round(x * 1e6) for x in theirs],
                    ratio=ratio,
                )
            self.row(
                f"sample cost, tree of {procs}", text, "<= 1/4 psrecord; <= 70 us/proc", met, **data
            )

    def _psrecord_per_snapshot(
        self, tree: list[str], interval: float, bare_cpu: float, procs: int, n: int
    ) -> float:
        cpu, snaps = self._psrecord_run(tree, interval, f"{procs}-{n}")
        return (cpu - bare_cpu) / max(1, snaps)

    def _traced_run(
        self, tree: list[str], interval: float, tag: str, agent: bool = False
    ) -> tuple[float, int]:
        """``run`` around ``tree`` (with ``--agent-events`` if ``agent``), into a store of its
        own: (CPU seconds of it and the tree, snapshots taken)."""
        logs = self.work / tag
        argv = traced(logs, interval, tree)
        if agent:
            argv.insert(argv.index("--"), "--agent-events")
        cpu = wait4(argv, self.env, **quiet())[1]
        return cpu, int(_newest_summary(logs)["snapshot_count"])  # type: ignore[call-overload]

    def _psrecord_run(self, tree: list[str], interval: float, tag: str) -> tuple[float, int]:
        """psrecord around ``tree``: (CPU seconds of it and the tree, samples taken)."""
        assert PSRECORD is not None
        log = self.work / f"psrecord-{tag}.txt"
        argv = [*PSRECORD, " ".join(tree), "--include-children", "--interval", str(interval)]
        cpu = wait4([*argv, "--log", str(log)], self.env, **quiet())[1]
        lines = log.read_text().splitlines()
        return cpu, sum(1 for line in lines if line.strip() and not line.startswith("#"))

    def snapshot_slope(self) -> None:
        """What one more snapshot costs, start-up and end left out: the tree of 21 with
        --agent-events over runs of 2 s and 8 s, the slope of CPU over snapshots, for
        both tools (the rows above divide whole runs, start-up included)."""
        if PSRECORD is None:
            return
        rounds, interval = (1 if self.quick else 3), 0.05
        ours: dict[float, list[tuple[float, int]]] = {2.0: [], 8.0: []}
        theirs: dict[float, list[tuple[float, int]]] = {2.0: [], 8.0: []}
        for seconds in ours:
            tree = [*TREE, "21", str(seconds)]
            for n in range(rounds):
                bare_cpu = wait4(tree, self.env, **quiet())[1]
                cpu, snaps = self._traced_run(tree, interval, f"slope-{seconds}-{n}", agent=True)
                ours[seconds].append((cpu - bare_cpu, snaps))
                cpu, snaps = self._psrecord_run(tree, interval, f"slope-{seconds}-{n}")
                theirs[seconds].append((cpu - bare_cpu, snaps))

        def slope(runs: dict[float, list[tuple[float, int]]]) -> tuple[float, float]:
            (c2, n2), (c8, n8) = (
                (statistics.median(c for c, _ in runs[s]), statistics.median(n for _, n in runs[s]))
                for s in (2.0, 8.0)
            )
            per = (c8 - c2) / (n8 - n2)
            return per, c2 - per * n2  # per snapshot, once per run

        (our_per, our_once), (their_per, their_once) = slope(ours), slope(theirs)
        self.row(
            "accounting, tree of 21, per extra snapshot",
            f"{our_per * 1e6:.0f} vs psrecord {their_per * 1e6:.0f} us = "
            f"{our_per / their_per:.3f}; once a run {our_once * 1e3:.1f} vs "
            f"{their_once * 1e3:.1f} ms",
            "-",
            None,
            ours_us=our_per * 1e6,
            psrecord_us=their_per * 1e6,
            ratio=our_per / their_per,
            ours_once_ms=our_once * 1e3,
            psrecord_once_ms=their_once * 1e3,
        )

    def process_cost(self) -> None:
        """Per-process accounting (and the tool-call ledger of --agent-events) on: CPU per
        process and snapshot over trees of 20, 200 and 2,000, and per snapshot on 21
        processes against psrecord."""
        seconds = 3.0 if self.quick else 8.0
        rounds = 1 if self.quick else 5
        for procs, interval in ((21, 0.05), (200, 0.05), (2_000, 0.25)):
            ours: list[float] = []
            theirs: list[float] = []
            tree = [*TREE, str(procs), str(seconds)]
            for n in range(rounds):
                bare_cpu = wait4(tree, self.env, **quiet())[1]
                # --agent-events: the open-call lookup too
                cpu, snaps = self._traced_run(tree, interval, f"accounted-{procs}-{n}", agent=True)
                ours.append((cpu - bare_cpu) / snaps)
                if PSRECORD is not None and procs == 21:
                    theirs.append(self._psrecord_per_snapshot(tree, interval, bare_cpu, procs, n))
            per_snap = statistics.median(ours)
            per_proc = per_snap / procs
            text = f"{per_snap * 1e6:.0f} us/snapshot, {per_proc * 1e6:.1f} us/proc"
            met: bool | None = per_proc <= 20e-6 if procs >= 200 else None
            target = "<= 20 us per process and snapshot" if procs >= 200 else "-"
            data: dict[str, object] = {"procs": procs, "ours_us": per_snap * 1e6}
            if theirs:
                ratio = per_snap / statistics.median(theirs)
                text += f"; psrecord {statistics.median(theirs) * 1e6:.0f} us = {ratio:.3f}"
                met, target = ratio <= 0.15, "<= 0.15 of psrecord per snapshot"
                data.update(psrecord_us=statistics.median(theirs) * 1e6, ratio=ratio)
            self.row(f"accounting, tree of {procs}", text, target, met, **data)

    def floor(self) -> None:
        """The least a Python sampler pays per snapshot here, on the tree of 21: bench_floor.py
        reads each member's stat line and fd folder and writes one line, nothing else; with
        --command, the command's own fields of the snapshot too.  Both floors, the wrapper
        (``--agent-events``) and psrecord alternate in each round."""
        if PSRECORD is None:
            return
        seconds = 3.0 if self.quick else 8.0
        rounds, interval = (1 if self.quick else 5), 0.05
        tree = [*TREE, "21", str(seconds)]
        floor: list[float] = []
        command: list[float] = []
        ours: list[float] = []
        theirs: list[float] = []
        for n in range(rounds):
            bare_cpu = wait4(tree, self.env, **quiet())[1]
            for options, figures in (([], floor), (["--command"], command)):
                out = self.work / f"floor-{len(options)}-{n}.jsonl"
                argv = [*FLOOR, str(interval), str(out), *options, "--", *tree]
                cpu = wait4(argv, self.env, **quiet())[1]
                figures.append((cpu - bare_cpu) / len(out.read_bytes().splitlines()))
            cpu, snaps = self._traced_run(tree, interval, f"floor-ours-{n}", agent=True)
            ours.append((cpu - bare_cpu) / snaps)
            theirs.append(self._psrecord_per_snapshot(tree, interval, bare_cpu, 21, n))
        low, own, our, their = (statistics.median(x) for x in (floor, command, ours, theirs))
        self.row(
            "python floor, tree of 21",
            f"{low * 1e6:.0f} vs psrecord {their * 1e6:.0f} us = {low / their:.3f}; "
            f"with the command's fields {own * 1e6:.0f} us = {own / their:.3f}; "
            f"ours {our * 1e6:.0f} us = {our / their:.3f}",
            "-",
            None,
            floor_us=low * 1e6,
            floor_us_rounds=[round(x * 1e6) for x in floor],
            command_floor_us=own * 1e6,
            command_floor_us_rounds=[round(x * 1e6) for x in command],
            ours_us=our * 1e6,
            ours_us_rounds=[round(x * 1e6) for x in ours],
            psrecord_us=their * 1e6,
            psrecord_us_rounds=[round(x * 1e6) for x in theirs],
            ratio=low / their,
            command_ratio=own / their,
        )

    def churn(self) -> None:
        """A loop starting short processes, 20,000 snapshots at 0.01 s: the wrapper's peak RSS
        against a quiet session's of the same length (each process seen is a line, then gone)."""
        interval = 0.01
        seconds = (2_000 if self.quick else 20_000) * interval
        busy = [*WORKLOAD, "churn", f"{seconds:.0f}", "4", "0.02"]
        still = [*TREE, "1", f"{seconds:.0f}"]
        peaks = []
        for name, command in (("churn", busy), ("quiet", still)):
            logs = self.work / f"churn-{name}"
            maxrss = wait4(traced(logs, interval, command), self.env, **quiet())[2]
            summary = _newest_summary(logs)
            peaks.append((maxrss, summary["snapshot_count"], summary.get("process_count")))
        (churn_kb, snaps, count), (quiet_kb, _, _) = peaks
        self.row(
            "churn (short processes, 0.01 s)",
            f"{snaps} snaps, {count} processes: {churn_kb / 1024:.1f} MB vs quiet "
            f"{quiet_kb / 1024:.1f} MB",
            "peak RSS within 2 MB of quiet",
            churn_kb - quiet_kb <= 2048,
            maxrss_kb=[churn_kb, quiet_kb],
            snapshots=snaps,
            processes=count,
        )

    def long_session(self) -> None:
        """6,000 snapshots against 200, at the finest interval run accepts: memory flat,
        exit prompt."""
        interval = 0.01
        wanted = (200, 2_000 if self.quick else 6_000)
        rate = None
        results = []
        for snaps in wanted:
            seconds = snaps * interval if rate is None else 1.4 * snaps / rate
            stamp = self.work / f"exit-{snaps}.txt"
            logs = self.work / f"long-{snaps}"
            child = [*TREE, "1", f"{seconds:.3f}", str(stamp)]
            argv = traced(logs, interval, child)
            _, _, maxrss, _ = wait4(argv, self.env, **quiet())
            latency = time.time() - float(stamp.read_text())
            count = int(_newest_summary(logs)["snapshot_count"])  # type: ignore[call-overload]
            rate = rate or count / seconds  # snapshots per second, start-up included
            results.append((count, maxrss, latency))
        (c1, r1, l1), (c2, r2, l2) = results
        met = abs(r2 - r1) <= 2048 and l1 <= 0.05 and l2 <= 0.05
        self.row(
            "long session",
            f"{c1} snaps {r1 / 1024:.1f} MB, {c2} snaps {r2 / 1024:.1f} MB; "
            f"exit {l1 * 1000:.0f}/{l2 * 1000:.0f} ms",
            "RSS within 2 MB; exit <= 50 ms",
            met,
            snapshots=[c1, c2],
            maxrss_kb=[r1, r2],
            exit_latency_s=[l1, l2],
        )

    def memory(self) -> None:
        ours = wait4([*TRACE, "run", "--", "sleep", "1"], self.env, **quiet())[2]
        if PSRECORD is None:
            self.row("memory (around sleep 1)", f"{ours / 1024:.1f} MB", "<= 2x psrecord", None)
            return
        theirs = wait4([*PSRECORD, "sleep 1"], self.env, **quiet())[2]
        self.row(
            "memory (around sleep 1)",
            f"{ours / 1024:.1f} MB vs psrecord {theirs / 1024:.1f} MB = {ours / theirs:.2f}",
            "<= 2x psrecord",
            ours <= 2 * theirs,
            ours_kb=ours,
            psrecord_kb=theirs,
        )

    def prune(self) -> None:
        count = 2_000 if self.quick else 10_000
        root = self.work / "prune-root"
        _make_store(root, count)
        started = time.perf_counter()
        env = {**self.env, "AUTOSKILLIT_LINUX_TRACING__LOG_DIR": str(root)}
        proc = subprocess.run([*TRACE, "prune", "--keep", "500"], env=env, capture_output=True)
        wall = time.perf_counter() - started
        left = len(list((root / "sessions").iterdir()))
        ok = proc.returncode == 0 and left == 500
        self.row(
            "prune",
            f"{count} -> {left} folders in {wall:.2f} s",
            "<= 2 s",
            ok and wall <= 2.0,
            seconds=wall,
            remaining=left,
            error=proc.stderr.decode()[-300:] if proc.returncode else None,
        )

    def ls(self) -> None:
        root = self.work / "ls-root"
        _make_index(root, 100_000)
        times = []
        ok = True
        for _ in range(5):
            started = time.perf_counter()
            proc = subprocess.run(
                [*TRACE, "ls", "--limit", "20", "--json"],
                env={**self.env, "AUTOSKILLIT_LINUX_TRACING__LOG_DIR": str(root)},
                capture_output=True,
            )
            times.append(time.perf_counter() - started)
            ok = ok and proc.returncode == 0 and len(proc.stdout.splitlines()) == 20
        wall = statistics.median(times)
        self.row(
            "ls newest 20 of 100,000", f"{wall:.3f} s", "<= 0.3 s", ok and wall <= 0.3, seconds=wall
        )

    def regression(self) -> None:
        """The comparison with the job's runs: the reading (done after the first
        snapshot, while the command runs) and the arithmetic left for the end."""
        root = self.work / "regression-root"
        _make_job_index(root, 100_000, every=50)
        index = str(root / "sessions.jsonl")
        for job, label in (("nightly", "a job run every 50th session"), ("new", "a new job")):
            reads, ends = [], []
            found = None
            for _ in range(3 if self.quick else 7):
                proc = subprocess.run(
                    [sys.executable, "-c", REGRESSION, index, job],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                read, end, found = json.loads(proc.stdout)
                reads.append(read)
                ends.append(end)
            read, end = statistics.median(reads), statistics.median(ends)
            met = end <= 0.005 and (job == "new" or read <= 0.005)
            self.row(
                f"job's runs, 100,000 lines: {label}",
                f"read {read * 1000:.1f} ms, at the end {end * 1000:.2f} ms ({found} runs)",
                "<= 5 ms" if job == "nightly" else "end <= 5 ms",
                met,
                read_seconds=read,
                end_seconds=end,
            )

    def redaction(self) -> None:
        """Command lines made to trip up the rules (100-200 KB arguments): linear work."""
        times = []
        for _ in range(3 if self.quick else 7):
            out = subprocess.run(
                [*WORKLOAD, "hostile-redaction"], env=self.env, capture_output=True
            )
            times.append(float(out.stdout))
        wall = statistics.median(times)
        self.row(
            "redaction, 5 hostile arguments",
            f"{wall:.3f} s (100-200 KB each)",
            "<= 2 s",
            wall <= 2.0,
            seconds=wall,
        )

    def export_timeout(self) -> None:
        """A Pushgateway that never answers, or answers a byte every 0.5 s: given up on in time."""
        from autoskillit_trace.export.pushgateway import PUSH_TIMEOUT

        walls = {}
        for answer in ("never", "drip"):
            portfile = self.work / f"gateway-{answer}.json"
            gateway = subprocess.Popen([*WORKLOAD, "gateway", str(portfile), answer])
            try:
                while not portfile.exists() and gateway.poll() is None:
                    time.sleep(0.01)
                url = f"http://127.0.0.1:{json.loads(portfile.read_text())['port']}"
                argv = [*TRACE, "run", "-q", "--pushgateway", url, "--", "true"]
                walls[answer] = wait4(argv, self.env, **quiet())[0]
            finally:
                gateway.kill()
                gateway.wait()
        limit = PUSH_TIMEOUT + 0.5
        self.row(
            "export, unanswering gateway",
            f"silent {walls['never']:.2f} s, one byte every 0.5 s {walls['drip']:.2f} s",
            f"<= {limit:g} s (push timeout {PUSH_TIMEOUT:g} s)",
            max(walls.values()) <= limit,
            seconds=walls,
        )

    def relay(self) -> None:
        """1 GiB through the stdout relay of ``--agent-events``, against ``cat | cat``.

        The relay stands where the middle ``cat`` stands; the command prints
        JSON log lines that are not an agent's (the splitter's needle is in
        none of them), the common case of a build or a test run under an agent.
        """
        size = (256 if self.quick else 1024) << 20
        source = [sys.executable, "-S", "-c", RELAY_SOURCE, str(size)]
        logs = self.work / "relay"
        wrapped = [*traced(logs, 0.1, source), "|", "cat", ">", "/dev/null"]
        wrapped.insert(len(TRACE) + 1, "--agent-events")
        bare = [*source, "|", "cat", "|", "cat", ">", "/dev/null"]
        a, b = self.alternate(_shell(wrapped), _shell(bare), 3 if self.quick else 5)
        gb = size / 1e9
        self.row(
            f"relay {size >> 20} MiB (--agent-events)",
            f"{gb / a:.2f} GB/s vs cat|cat {gb / b:.2f} GB/s = {b / a:.2f}",
            ">= 1 GB/s",
            gb / a >= 1.0,
            ours_gbps=gb / a,
            cat_gbps=gb / b,
            ratio=b / a,
        )

    def html_report(self) -> None:
        """``show --html`` of a session of 20,000 snapshots, with an agent's 400 tool calls:
        the page's size, and the whole command's time (median of five)."""
        root = self.work / "html-store"
        _make_long_session(root / "sessions" / "long", 20_000)
        page = self.work / "long.html"
        argv = [*TRACE, "show", "--log-dir", str(root), "long", "--html", str(page)]
        wall = statistics.median(wait4(argv, self.env, **quiet())[0] for _ in range(5))
        size = page.stat().st_size
        self.row(
            "HTML report, 20,000 snapshots",
            f"{size / 1e6:.2f} MB in {wall:.2f} s",
            "< 2 MB, < 1 s",
            size < 2_000_000 and wall < 1.0,
            bytes=size,
            seconds=wall,
        )

    def imports(self) -> None:
        # As users start it: the console script (``-m`` would add runpy's own imports).
        script = [str(_SCRIPT)] if _SCRIPT.exists() else ["-m", "autoskillit_trace"]
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", *script, "run", "--", "true"],
            env=self.env,
            capture_output=True,
            text=True,
        )
        rows = []
        for line in proc.stderr.splitlines():
            if line.startswith("import time:") and "|" in line:
                _, cumulative, name = (part.strip() for part in line[12:].split("|"))
                if cumulative.isdigit():
                    rows.append((int(cumulative), name))
        top = sorted(rows, reverse=True)[:5]
        names = {name.strip() for _, name in rows}
        unwanted = sorted(
            n
            for n in names
            if n.split(".")[0]
            in {
                "click",
                "structlog",
                "asyncio",
                "psutil",
                "platformdirs",
                "yaml",
                "dataclasses",
                "typing",
                "shutil",
                "subprocess",
                "threading",
                "pathlib",
                "contextlib",
                "urllib",
                "ipaddress",
                "fnmatch",
            }
        )
        text = ", ".join(f"{name} {us / 1000:.1f} ms" for us, name in top)
        self.row(
            "import (run)",
            text,
            "nothing run does not use",
            not unwanted,
            top5=[{"module": n, "cumulative_us": us} for us, n in top],
            unwanted=unwanted,
        )
        if unwanted:
            print(f"  imported though run does not need them: {', '.join(unwanted)}")


# The relay's source: ``argv[1]`` bytes of JSON log lines, in 1 MiB writes.
RELAY_SOURCE = """
import os, sys
line = b'{"level":"info","msg":"compiling","unit":"src/module_0042.c","ms":17}\\n'
block = (line * ((1 << 20) // len(line) + 1))[: 1 << 20]
left = int(sys.argv[1])
while left > 0:
    left -= os.write(1, block[: min(left, len(block))])
"""


def _shell(argv: list[str]) -> list[str]:
    """A pipeline of quoted words (and the operators ``|`` and ``>``) run by sh."""
    import shlex

    return ["sh", "-c", " ".join(w if w in ("|", ">") else shlex.quote(w) for w in argv)]


def _newest_summary(logs: Path) -> dict[str, object]:
    lines = (logs / "sessions.jsonl").read_text().splitlines()
    name = json.loads(lines[-1])["dir_name"]
    return json.loads((logs / "sessions" / name / "summary.json").read_text())


def _make_store(root: Path, count: int) -> None:
    """``count`` finished sessions as the wrapper writes them, oldest first."""
    sessions = root / "sessions"
    sessions.mkdir(parents=True)
    base = time.time() - count * 60
    lines = []
    for i in range(count):
        name = f"bench-{i:06d}"
        folder = sessions / name
        folder.mkdir()
        start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + i * 60))
        summary = {
            "session_id": name,
            "dir_name": name,
            "start_ts": start,
            "exit_code": 0,
            "success": True,
            "anomaly_count": 0,
            "snapshot_count": 3,
        }
        (folder / "summary.json").write_text(json.dumps(summary))
        (folder / "proc_trace.jsonl").write_text('{"event":"snapshot","seq":0}\n' * 3)
        lines.append(json.dumps(summary))
    (root / "sessions.jsonl").write_text("\n".join(lines) + "\n")


def _make_long_session(folder: Path, count: int) -> None:
    """A finished agent session of ``count`` snapshots at 0.05 s, memory peaking once."""
    import math

    folder.mkdir(parents=True)
    start = time.time() - count * 0.05 - 10

    def iso(epoch: float) -> str:
        whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
        return f"{whole}.{int(epoch % 1 * 1e6):06d}+00:00"

    header = {"ts": iso(start), "event": "session_start", "session_id": "long",
              "dir_name": "long", "skill_command": "claude -p 'a long task'",
              "start_ts": iso(start)}  # fmt: skip
    with open(folder / "proc_trace.jsonl", "w") as trace:
        trace.write(json.dumps(header) + "\n")
        for i in range(count):
            t = i * 0.05
            rss = 200_000 + int(80_000 * math.sin(i / 500)) + (900_000 if i == count // 3 else 0)
            snapshot = {"ts": iso(start + t), "seq": i, "event": "snapshot", "pid": 100,
                        "elapsed_s": round(t, 6), "state": "sleeping", "vm_rss_kb": rss // 2,
                        "threads": 4, "fd_count": 20, "fd_soft_limit": 20000,
                        "ctx_switches_voluntary": 10 * i, "ctx_switches_involuntary": i,
                        "sig_pnd": "0" * 16, "sig_blk": "0" * 16, "sig_cgt": "0" * 16,
                        "oom_score": 670, "wchan": "do_epoll_wait", "comm": "claude",
                        "cpu_percent": float(i % 100), "sched_wait_s": 0.01 * i,
                        "tree_procs": 3 + i % 5, "tree_rss_kb": rss, "tree_threads": 9,
                        "tree_fd_count": 40 + i % 7, "tree_cpu_percent": float(i % 180),
                        "zombie_pids": [], "zombie_start_ticks": []}  # fmt: skip
            trace.write(json.dumps(snapshot) + "\n")

    def event(epoch: float, name: str, **fields: object) -> str:
        return json.dumps({"timestamp": iso(epoch), "level": "INFO", "event": name, **fields})

    with open(folder / "events.jsonl", "w") as events:
        for turn in range(1, 101):
            at = start + (turn - 1) * count * 0.05 / 100
            events.write(event(at, "turn_start", turn=turn) + "\n")
            for call in range(4):
                command = {"command": f"make step-{call}"}
                events.write(
                    event(at + 1 + call * 2, "tool_result", agent="Bash", turn=turn,
                          duration_sec=1.5, success=True, input=command) + "\n"
                )  # fmt: skip
            events.write(
                event(at + 9, "turn_complete", turn=turn, duration_sec=9.0, success=True) + "\n"
            )
    anomalies = [{"ts": iso(start + 5 * k), "seq": 100 * k, "event": "anomaly",
                  "kind": "rss_growth", "severity": "warning", "pid": 100,
                  "detail": {"k": k}} for k in range(1, 30)]  # fmt: skip
    (folder / "anomalies.jsonl").write_text("".join(json.dumps(a) + "\n" for a in anomalies))
    summary = {**header, "success": True, "subtype": "success", "exit_code": 0,
               "snapshot_count": count, "duration_seconds": count * 0.05,
               "termination_reason": "exited: code 0", "anomaly_count": len(anomalies),
               "agent_turns": 100, "tool_call_count": 400, "tool_calls": {"Bash": 400}}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))


def _make_index(root: Path, count: int) -> None:
    root.mkdir(parents=True)
    base = time.time() - count * 60
    with open(root / "sessions.jsonl", "w") as handle:
        for i in range(count):
            start = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + i * 60))
            handle.write(
                json.dumps(
                    {
                        "session_id": f"s-{i}",
                        "dir_name": f"s-{i}",
                        "start_ts": start,
                        "duration_seconds": 12.5,
                        "exit_code": i % 7 == 0,
                        "success": i % 7 != 0,
                        "peak_rss_kb": 50_000 + i,
                        "anomaly_count": i % 3,
                        "skill_command": f"make t{i}",
                    }
                )
                + "\n"
            )


# In a fresh interpreter, as in a session: json is imported by the first line read.
REGRESSION = """
import json, sys, time
from autoskillit_trace.regress import Thresholds, comparable, regressions
from autoskillit_trace.store.index import job_runs
started = time.perf_counter()
runs = job_runs(sys.argv[1], sys.argv[2], 20, comparable)
read = time.perf_counter()
current = {"success": True, "duration_seconds": 30.0, "peak_tree_rss_kb": 400_000}
regressions(current, runs, Thresholds())
print(json.dumps([read - started, time.perf_counter() - read, len(runs)]))
"""


def _make_job_index(root: Path, count: int, every: int) -> None:
    """An index of ``count`` lines as sessions write them; every ``every``-th of job ``nightly``."""
    from autoskillit_trace.summary import Outcome, Peaks, build_summary, index_record

    root.mkdir(parents=True)
    with open(root / "sessions.jsonl", "w") as handle:
        for i in range(count):
            start = {
                "session_id": f"s-{i}",
                "dir_name": f"s-{i}",
                "skill_command": f"make -C /src/project{i % 37} test",
                "start_ts": "2026-11-30T00:00:00+00:00",
                "job": "nightly" if i % every == 0 else f"make -C /src/project{i % 37} test",
            }
            outcome = Outcome(0, "success", "exited: code 0", end_ts=start["start_ts"])
            outcome.duration_seconds = 12.5 + i % 5
            summary = build_summary(start, Peaks(), outcome, {})
            summary["peak_tree_rss_kb"] = 200_000 + i % 1000
            handle.write(json.dumps(index_record(summary), separators=(",", ":")) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, smaller sizes")
    parser.add_argument("--out", default=str(ROOT / "bench-results.json"))
    parser.add_argument("--only", nargs="*", help="figures to run (method names)")
    args = parser.parse_args()
    import autoskillit_trace

    package = Path(autoskillit_trace.__file__).parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    print(f"measuring {package} (python {sys.version.split()[0]})")
    figures = [
        "startup",
        "startup_full_store",
        "exit_latency",
        "sample_cost",
        "long_session",
        "process_cost",
        "snapshot_slope",
        "floor",
        "churn",
        "memory",
        "prune",
        "ls",
        "regression",
        "redaction",
        "export_timeout",
        "html_report",
        "imports",
        "relay",
    ]
    with tempfile.TemporaryDirectory(prefix="autoskillit-bench-") as tmp:
        bench = Bench(Path(tmp), args.quick)
        print(f"{'figure':<34} {'value':<44} {'target':<30} met")
        for name in args.only or figures:
            try:
                getattr(bench, name)()
            except Exception as exc:  # a broken figure is reported, the others still run
                bench.row(name, f"failed: {exc}", "-", False)
    Path(args.out).write_text(
        json.dumps(
            {
                "python": sys.version.split()[0],
                "machine": os.uname().machine,
                "kernel": os.uname().release,
                "cpus": os.cpu_count(),
                "rows": bench.rows,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {args.out}")
    return 0 if all(r["met"] is not False for r in bench.rows) else 1


if __name__ == "__main__":
    sys.exit(main())
