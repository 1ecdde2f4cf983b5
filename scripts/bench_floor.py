"""The least a Python sampler pays per snapshot here: ``bench_floor.py INTERVAL OUT [--command]
-- COMMAND...``.

The benchmark's floor, set beside the wrapper's per-snapshot figures.  It runs
COMMAND and, every INTERVAL until it exits, does only what no sampler of the
same figures can skip, with the wrapper's own savings: one ``pread`` of each
member's held stat line (parsed only when it changed), one ``fstat`` of its
held fd folder, the held children files re-read only when /proc/loadavg says
a process was born, and one JSON line appended to OUT (formatted by hand:
importing ``json`` alone costs ~7 ms at start).  With ``--command``, also the
command's own fields of the snapshot contract, from its held files: the
signal masks and context switches of ``status``, ``oom_score``, the run
delay of ``schedstat``, ``wchan`` (only while it is not running) and its open
files limit.  No accounting, no detectors, no tool-call ledger, no session
store.  Linux 6.2+ (open files by folder size).
"""

from __future__ import annotations

import os
import resource
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


def command_fields(pid: int, member: Member | None, held: dict[str, int]) -> str:
    """The command's own fields (``--command``), read through ``held`` descriptors."""
    data = {}
    running = member is not None and member.line[member.line.rindex(b")") + 2 :][:1] == b"R"
    for name in ("status", "oom_score", "schedstat") if running else _OWN_FILES:
        try:
            fd = held.get(name)
            if fd is None:
                fd = held[name] = os.open(f"/proc/{pid}/{name}", os.O_RDONLY)
            data[name] = os.pread(fd, 65536, 0)
        except OSError:
            data[name] = b""
    signals = data["status"].partition(b"\nSigPnd:")[2].split(None, 9)
    switches = data["status"].partition(b"\nvoluntary_ctxt_switches:")[2].split(None, 3)
    try:
        limit = resource.prlimit(pid, resource.RLIMIT_NOFILE)[0]
        fields = (
            f'"sig_pnd": "{signals[0].decode()}", "sig_blk": "{signals[4].decode()}", '
            f'"sig_cgt": "{signals[8].decode()}", "ctx_switches_voluntary": {int(switches[0])}, '
            f'"ctx_switches_involuntary": {int(switches[2])}, '
            f'"oom_score": {int(data["oom_score"])}, '
            f'"sched_wait_s": {int(data["schedstat"].split()[1]) / 1e9}, '
            f'"wchan": "{data.get("wchan", b"").decode()}", "fd_soft_limit": {limit}'
        )
    except (IndexError, ValueError, OSError):  # gone
        return '"state": null'
    return fields


_OWN_FILES = ("status", "oom_score", "schedstat", "wchan")


def main() -> int:
    interval, out_path = float(sys.argv[1]), sys.argv[2]
    own = sys.argv[3] == "--command"
    argv = sys.argv[5:] if own else sys.argv[4:]
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    child = os.fork()
    if child == 0:
        os.execvp(argv[0], argv)
    loadavg = os.open("/proc/loadavg", os.O_RDONLY)
    tree: dict[int, Member] = {}
    held: dict[str, int] = {}  # the command's own files (--command)
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
            fields = snapshot(tree, page_kb)
            if own:
                fields += ", " + command_fields(child, tree.get(child), held)
            line = f'{{"seq": {seq}, "elapsed_s": {elapsed}, {fields}}}\n'
            out.write(line.encode())
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
