"""A small workload with something to find: memory that grows, a child process,
a zombie left unreaped for a while, and a burst of open files."""

import os
import subprocess
import sys
import time

print("demo workload: starting", flush=True)
helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2.5)"])
zombie = os.fork()
if zombie == 0:
    os._exit(0)  # never reaped until the end: a zombie
hoard = []
files = []
for step in range(24):
    hoard.append(b"x" * (4 << 20))  # +4 MiB resident every step
    if step % 6 == 0:
        files.extend(open(os.devnull) for _ in range(20))  # noqa: SIM115 (held open on purpose)
    time.sleep(0.125)
helper.wait()
os.waitpid(zombie, 0)
print(f"demo workload: done, holding {len(hoard) * 4} MiB and {len(files)} files", flush=True)
