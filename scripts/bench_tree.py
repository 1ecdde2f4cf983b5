"""A process tree for the benchmark: ``bench_tree.py PROCS SECONDS [EXIT_STAMP]``.

Starts PROCS-1 sleeping children (so the tree holds PROCS processes), sleeps
SECONDS, stops them, and, when EXIT_STAMP is given, writes the wall-clock time
of its own exit there so the caller can measure how long the wrapper takes to
notice.
"""

import os
import signal
import sys
import time

procs, seconds = int(sys.argv[1]), float(sys.argv[2])
children = []
for _ in range(procs - 1):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        time.sleep(seconds + 30)
        os._exit(0)
    children.append(pid)
time.sleep(seconds)
for pid in children:
    os.kill(pid, signal.SIGKILL)
for pid in children:
    os.waitpid(pid, 0)
if len(sys.argv) > 3:
    with open(sys.argv[3], "w") as handle:
        handle.write(repr(time.time()))
