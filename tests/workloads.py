"""Test workloads: real programs with real misbehaviour, run as ``python workloads.py NAME ...``.

Every test that needs a process to grow, leak, hang or die starts one of these,
so what each does is written down once.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time


def grow(seconds: str = "3", step_mb: str = "4", pause: str = "0.05") -> None:
    """Resident memory that keeps growing (pages touched, not just reserved)."""
    hoard = []
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        hoard.append(b"x" * (int(step_mb) << 20))
        time.sleep(float(pause))


def fds(limit: str = "64", count: str = "60", hold: str = "1.0") -> None:
    """Open files up to most of a lowered RLIMIT_NOFILE."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limit), int(limit)))
    handles = [open(os.devnull) for _ in range(int(count) - 3)]  # noqa: SIM115
    time.sleep(float(hold))
    del handles


def zombie(hold: str = "1.5") -> None:
    """Fork a child that exits at once, and do not reap it for a while."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    time.sleep(float(hold))
    os.waitpid(pid, 0)


def sigpending(before: str = "0.5", after: str = "1.0") -> None:
    """Block SIGUSR1, then receive it: it stays pending."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    time.sleep(float(before))
    os.kill(os.getpid(), signal.SIGUSR1)
    time.sleep(float(after))


def oom(before: str = "0.3", after: str = "1.0", code: str = "0") -> None:
    """Raise our own oom_score_adj to the maximum: the OOM killer's first pick."""
    time.sleep(float(before))
    with open("/proc/self/oom_score_adj", "w") as handle:
        handle.write("1000")
    time.sleep(float(after))
    sys.exit(int(code))


def exit_with(code: str) -> None:
    sys.exit(int(code))


def die_by(signum: str) -> None:
    """Die by a signal, the default action restored first."""
    sig = int(signum)
    if sig not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
    os.kill(os.getpid(), sig)
    time.sleep(5)
    sys.exit(99)


def count_signals(out: str, settle: str = "0.5", timeout: str = "10", *names: str) -> None:
    """Count each signal received; write {"ready": true} then the counts to ``out``.

    After the first signal it waits ``settle`` seconds for duplicates, writes
    the counts and exits 0.
    """
    counts: dict[str, int] = {}
    first: list[float] = []

    def handler(signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        counts[name] = counts.get(name, 0) + 1
        if not first:
            first.append(time.monotonic())

    for name in names or ("SIGTERM",):
        signal.signal(getattr(signal, name), handler)
    _write_json(out, {"ready": True, "pid": os.getpid()})
    deadline = time.monotonic() + float(timeout)
    while time.monotonic() < deadline:
        if first and time.monotonic() - first[0] >= float(settle):
            break
        time.sleep(0.01)
    _write_json(out, {"ready": True, "counts": counts})


def sleep(seconds: str = "1") -> None:
    time.sleep(float(seconds))


def echo(*words: str) -> None:
    """Print to stdout and stderr, to check that both pass through untouched."""
    print(" ".join(words), flush=True)
    print("to stderr", file=sys.stderr, flush=True)


def replay(path: str, delay: str = "0.05", *_agent_args: str) -> None:
    """A stand-in agent: print a captured stream-json file line by line, with pauses.

    Each line goes out in two writes with a pause between them, as a real CLI's
    large lines do, so the wrapper sees lines cut across reads.  Extra
    arguments (``--max-turns 5``) are accepted and ignored, as the wrapper
    reads them from the argv.
    """
    pause = float(delay)
    out = sys.stdout.buffer
    with open(path, "rb") as handle:
        for line in handle:
            half = len(line) // 2
            out.write(line[:half])
            out.flush()
            time.sleep(pause / 2)
            out.write(line[half:])
            out.flush()
            time.sleep(pause / 2)


def blob(size: str, seed: str = "1", newlines: str = "yes") -> None:
    """``size`` pseudo-random bytes on stdout (see ``blob_bytes``), in uneven writes."""
    data = blob_bytes(int(size), int(seed), newlines == "yes")
    out = sys.stdout.buffer
    step, offset = 1, 0
    while offset < len(data):
        out.write(data[offset : offset + step])
        out.flush()
        offset += step
        step = step * 7 % 300_007 + 1
    out.flush()


def blob_bytes(size: int, seed: int, newlines: bool) -> bytes:
    """Deterministic bytes: every value 0-255 (or every one but ``\\n``)."""
    import random

    data = bytearray(random.Random(seed).randbytes(size))
    if not newlines:
        data = data.replace(b"\n", b"x")
    return bytes(data)


def ready_sleep(ready: str, seconds: str = "30") -> None:
    """Write {"ready": true} to ``ready`` (start-up is over: our figures hold still), then sleep."""
    _write_json(ready, {"ready": True})
    time.sleep(float(seconds))


def gateway(portfile: str, answer: str = "never") -> None:
    """A Pushgateway that takes connections and never answers ("never"), or answers one
    byte every 0.5 s ("drip": 63 s for the whole answer); its port goes to ``portfile``."""
    import contextlib
    import socket

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        _write_json(portfile, {"port": server.getsockname()[1]})
        while True:
            if answer != "drip":
                time.sleep(3600)  # the kernel accepts; nobody reads
                continue
            conn, _ = server.accept()
            with conn, contextlib.suppress(OSError):  # the client hung up: the next one
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                    time.sleep(0.5)
                    conn.sendall(bytes([byte]))


def hostile_redaction() -> None:
    """Redact arguments made to trip up the rules (100-200 KB each); print the seconds taken.

    A rule that backtracked on them would take hours.
    """
    from autoskillit_trace.redact import Redactor

    hostile = [
        "a" * 200_000,
        "--" + "a-" * 50_000 + "token",
        "KEY" * 60_000,
        "https://" + "u" * 100_000,
        "Bearer " * 30_000,
    ]
    started = time.perf_counter()
    redacted = Redactor().argv(hostile)
    took = time.perf_counter() - started
    assert redacted[1] == hostile[1]
    print(f"{took:.6f}")


def stubborn_tree(pidfile: str, seconds: str = "30") -> None:
    """A parent and a child that both ignore SIGTERM; their pids go to ``pidfile``."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = os.fork()
    if child == 0:
        time.sleep(float(seconds))
        os._exit(0)
    _write_json(pidfile, {"pids": [os.getpid(), child]})
    time.sleep(float(seconds))


def churn(seconds: str = "3", width: str = "4", life: str = "0.03") -> None:
    """Keep ``width`` short-lived children alive, each replaced as it exits."""
    deadline = time.monotonic() + float(seconds)
    alive = 0
    while time.monotonic() < deadline:
        while alive < int(width):
            if os.fork() == 0:
                time.sleep(float(life))
                os._exit(0)
            alive += 1
        os.wait()
        alive -= 1
    while alive:
        os.wait()
        alive -= 1


def daemonize(pidfile: str, seconds: str = "30", ignore_term: str = "no", *_extra: str) -> None:
    """Leave a daemon behind (double fork, setsid), then exit once it is running.

    Extra arguments do nothing but stand in the daemon's command line (forked, not exec'd).
    """
    first = os.fork()
    if first == 0:
        os.setsid()
        if os.fork() == 0:
            if ignore_term == "yes":
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            _write_json(pidfile, {"pid": os.getpid()})
            time.sleep(float(seconds))
        os._exit(0)
    os.waitpid(first, 0)
    deadline = time.monotonic() + 10
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.01)


def orchestrate(*phases: str) -> None:
    """An orchestrator that logs its own phases as turns in the wrapper's event log."""
    from datetime import datetime, timezone

    path = os.environ["AUTOSKILLIT_TRACE_EVENTS"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for turn, phase in enumerate(phases or ("clarifying", "planning"), start=1):
            record = {
                "timestamp": datetime.now(timezone.utc).isoformat(),
                "level": "INFO",
                "event": "turn_start",
                "turn": turn,
                "phase": phase,
                "max_turns": len(phases),
            }
            os.write(fd, (json.dumps(record) + "\n").encode())  # one write per line
    finally:
        os.close(fd)
    print(os.environ["AUTOSKILLIT_TRACE_SESSION_DIR"])


def argv(out: str, *args: str) -> None:
    """Write our arguments to ``out`` as the hex of their exact bytes."""
    _write_json(out, [os.fsencode(arg).hex() for arg in args])


def undumpable(seconds: str = "1") -> None:
    """Make ourselves non-dumpable: /proc/PID/fd and the like become root's alone."""
    import ctypes

    pr_set_dumpable = 4
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0)
    print("undumpable", flush=True)
    time.sleep(float(seconds))


def _write_json(path: str, value: object) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(value, handle)
    os.replace(tmp, path)


WORKLOADS = {
    "grow": grow,
    "fds": fds,
    "zombie": zombie,
    "sigpending": sigpending,
    "oom": oom,
    "exit": exit_with,
    "die-by": die_by,
    "count-signals": count_signals,
    "sleep": sleep,
    "echo": echo,
    "replay": replay,
    "blob": blob,
    "ready-sleep": ready_sleep,
    "gateway": gateway,
    "hostile-redaction": hostile_redaction,
    "stubborn-tree": stubborn_tree,
    "churn": churn,
    "daemonize": daemonize,
    "orchestrate": orchestrate,
    "argv": argv,
    "undumpable": undumpable,
}

if __name__ == "__main__":
    WORKLOADS[sys.argv[1]](*sys.argv[2:])
