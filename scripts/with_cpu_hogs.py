"""``make test-loaded``: run a command with CPU-bound processes beside it.

    python scripts/with_cpu_hogs.py [--hogs N] -- COMMAND...

A busy CI machine, on purpose: no test may depend on how fast it runs.  The
hogs (two by default, one per core here) are stopped however the command
ends: its own exit, Ctrl-C (the command gets it from the terminal and may
report), or SIGTERM or SIGHUP to this script (passed on to the command);
should this script be killed outright, the kernel kills them (parent-death
signal).  Exits with the command's status.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys

# Each hog asks to be killed when this script dies, then spins; if this
# script was already gone before the ask took effect, it leaves at once.
# Ctrl-C is for the command: this script stops the hogs.
HOG = """
import ctypes, os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
while True:
    pass
"""
# After Ctrl-C, how long the command may take to wind down before it is terminated.
WIND_DOWN_S = 30


def run(command: list[str]) -> int:
    """The command's exit status; SIGTERM and SIGHUP are passed on to it."""
    proc = subprocess.Popen(command)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: proc.send_signal(signum))
    try:
        status = proc.wait()
        return 128 - status if status < 0 else status  # killed by signal N: 128+N, as a shell
    except KeyboardInterrupt:  # the command got it too (same process group): let it report
        try:
            proc.wait(WIND_DOWN_S)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            proc.terminate()
            proc.wait()
        return 130


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hogs", type=int, default=2, help="CPU-bound processes (default: 2)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND...")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given; expected: -- COMMAND...")
    hogs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(args.hogs):
            hogs.append(subprocess.Popen([sys.executable, "-c", HOG, str(os.getpid())]))
        pids = " ".join(str(h.pid) for h in hogs)
        print(f"with_cpu_hogs: {len(hogs)} CPU-bound processes beside it ({pids})", flush=True)
        return run(command)
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait()


if __name__ == "__main__":
    sys.exit(main())
