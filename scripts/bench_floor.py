"""The least a Python sampler pays per snapshot here: ``bench_floor.py INTERVAL OUT -- COMMAND...``.

The benchmark's floor, set beside the wrapper's per-snapshot figures.  It runs
COMMAND and, every INTERVAL until it exits, does only what no sampler of the
same figures can skip: one ``pread`` of each member's held stat line (members
found through the children files, walked again only when /proc/loadavg says a
process was born), RSS, CPU and threads summed, one ``fstat`` of each member's
fd folder, and one JSON line appended to OUT (formatted by hand: importing
``json`` alone costs ~7 ms at start).  No accounting, no detectors, no
tool-call ledger, no session store.  Linux 6.2+ (open files by folder size).
"""

from __future__ import annotations

import os
import sys
import time


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", "rb") as handle:
            return [int(child) for child in handle.read().split()]
    except OSError:
        return []


def walk(root: int, held: dict[int, tuple[int, int]]) -> None:
    """Hold the stat line and fd folder of ``root`` and its descendants not held yet."""
    stack = [root]
    while stack:
        pid = stack.pop()
        if pid not in held:
            try:
                stat = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
                fds = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
            except OSError:
                continue
            held[pid] = (stat, fds)
        stack.extend(children(pid))


def snapshot(held: dict[int, tuple[int, int]], page_kb: int) -> str:
    rss = ticks = threads = files = 0
    for pid, (stat, fds) in list(held.items()):
        try:
            line = os.pread(stat, 4096, 0)
            files += os.fstat(fds).st_size
        except OSError:  # reaped
            del held[pid]
            os.close(stat)
            os.close(fds)
            continue
        fields = line[line.rindex(b")") + 2 :].split(None, 22)
        ticks += int(fields[11]) + int(fields[12])
        threads += int(fields[17])
        rss += int(fields[21]) * page_kb
    return (f'"procs": {len(held)}, "rss_kb": {rss}, "cpu_ticks": {ticks}, '
            f'"threads": {threads}, "fd_count": {files}')  # fmt: skip


def main() -> int:
    interval, out_path, argv = float(sys.argv[1]), sys.argv[2], sys.argv[4:]
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    child = os.fork()
    if child == 0:
        os.execvp(argv[0], argv)
    loadavg = os.open("/proc/loadavg", os.O_RDONLY)
    held: dict[int, tuple[int, int]] = {}
    last_pid = b""
    start = due = time.monotonic()
    with open(out_path, "ab", buffering=0) as out:
        for seq in range(sys.maxsize):
            if os.waitpid(child, os.WNOHANG)[0]:
                return 0
            born = os.pread(loadavg, 128, 0).rsplit(b" ", 1)[1]
            if born != last_pid:
                last_pid = born
                walk(child, held)
            elapsed = round(time.monotonic() - start, 6)
            line = f'{{"seq": {seq}, "elapsed_s": {elapsed}, {snapshot(held, page_kb)}}}\n'
            out.write(line.encode())
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
