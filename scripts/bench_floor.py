"""The least a Python sampler pays per snapshot here: ``bench_floor.py INTERVAL OUT -- COMMAND...``.

The benchmark's floor, set beside the wrapper's per-snapshot figures.  It runs
COMMAND and, every INTERVAL until it exits, does only what no sampler of the
same figures can skip, with the wrapper's own savings: one ``pread`` of each
member's held stat line (parsed only when it changed), one ``fstat`` of its
held fd folder, the held children files re-read only when /proc/loadavg says
a process was born, and one JSON line appended to OUT (formatted by hand:
importing ``json`` alone costs ~7 ms at start).  No accounting, no detectors,
no tool-call ledger, no session store.  Linux 6.2+ (open files by folder size).
"""

from __future__ import annotations

import os
import sys
import time


class Member:
    """A process of the tree: its held files, its last stat line and what it gave."""

    __slots__ = ("children", "fds", "line", "rss_pages", "stat", "threads", "ticks")

    def __init__(self, pid: int) -> None:
        self.stat = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
        self.fds = os.open(f"/proc/{pid}/fd", os.O_RDONLY | os.O_DIRECTORY)
        self.children = os.open(f"/proc/{pid}/task/{pid}/children", os.O_RDONLY)
        self.line = b""
        self.ticks = self.threads = self.rss_pages = 0

    def close(self) -> None:
        for fd in (self.stat, self.fds, self.children):
            os.close(fd)


def walk(root: int, tree: dict[int, Member]) -> None:
    """Hold the files of ``root`` and of its descendants not held yet."""
    stack = [root]
    while stack:
        pid = stack.pop()
        member = tree.get(pid)
        if member is None:
            try:
                member = tree[pid] = Member(pid)
            except OSError:
                continue
        try:
            listed = os.pread(member.children, 4096, 0)
        except OSError:
            continue
        stack.extend(int(child) for child in listed.split())


def snapshot(tree: dict[int, Member], page_kb: int) -> str:
    rss = ticks = threads = files = 0
    for pid, member in list(tree.items()):
        try:
            line = os.pread(member.stat, 4096, 0)
            files += os.fstat(member.fds).st_size
        except OSError:  # reaped
            del tree[pid]
            member.close()
            continue
        if line != member.line:
            fields = line[line.rindex(b")") + 2 :].split(None, 22)
            member.line = line
            member.ticks = int(fields[11]) + int(fields[12])
            member.threads = int(fields[17])
            member.rss_pages = int(fields[21])
        ticks += member.ticks
        threads += member.threads
        rss += member.rss_pages * page_kb
    return (f'"procs": {len(tree)}, "rss_kb": {rss}, "cpu_ticks": {ticks}, '
            f'"threads": {threads}, "fd_count": {files}')  # fmt: skip


def main() -> int:
    interval, out_path, argv = float(sys.argv[1]), sys.argv[2], sys.argv[4:]
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    child = os.fork()
    if child == 0:
        os.execvp(argv[0], argv)
    loadavg = os.open("/proc/loadavg", os.O_RDONLY)
    tree: dict[int, Member] = {}
    last_pid = b""
    start = due = time.monotonic()
    with open(out_path, "ab", buffering=0) as out:
        for seq in range(sys.maxsize):
            if os.waitpid(child, os.WNOHANG)[0]:
                return 0
            born = os.pread(loadavg, 128, 0).rsplit(b" ", 1)[1]
            if born != last_pid:
                last_pid = born
                walk(child, tree)
            elapsed = round(time.monotonic() - start, 6)
            line = f'{{"seq": {seq}, "elapsed_s": {elapsed}, {snapshot(tree, page_kb)}}}\n'
            out.write(line.encode())
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
