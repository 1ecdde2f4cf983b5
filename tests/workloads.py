"""Test workloads: real programs with real misbehaviour, run as ``python workloads.py NAME ...``.

Every test that needs a process to grow, leak, hang or die starts one of these,
so what each does is written down once.
"""

from __future__ import annotations

import itertools
import json
import os
import resource
import shlex
import signal
import sys
import time
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from random import Random


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


def count_blocked(out: str, hold: str = "1.0", settle: str = "0.5", *numbers: str) -> None:
    """Block the signals ``numbers`` for ``hold`` seconds, then count each instance queued.

    Real-time signals queue one instance per sending: the count is how many
    were sent while blocked.  Written to ``out`` as {"counts": {"34": 1}}.
    """
    wanted = {int(n) for n in numbers}
    signal.pthread_sigmask(signal.SIG_BLOCK, wanted)
    _write_json(out, {"ready": True, "pid": os.getpid()})
    time.sleep(float(hold))
    counts: dict[str, int] = {}
    while True:
        info = signal.sigtimedwait(wanted, float(settle))
        if info is None:
            break
        counts[str(info.si_signo)] = counts.get(str(info.si_signo), 0) + 1
    _write_json(out, {"ready": True, "counts": counts})


def interleave(lines: str = "200") -> None:
    """Alternate lines on stdout and stderr, each flushed: their order is the test."""
    for i in range(int(lines)):
        sys.stdout.write(f"out {i}\n")
        sys.stdout.flush()
        sys.stderr.write(f"err {i}\n")
        sys.stderr.flush()


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


def retry_forever(delay: str = "0.2", burn: str = "0.02") -> None:
    """A stand-in agent whose API never answers: Claude Code's init, then only ``api_retry``
    lines, every ``delay`` seconds, each attempt costing ``burn`` seconds of CPU, forever."""
    out = sys.stdout
    out.write(json.dumps({"type": "system", "subtype": "init", "session_id": "s"}) + "\n")
    for attempt in itertools.count(1):
        line = {"type": "system", "subtype": "api_retry", "attempt": attempt,
                "retry_delay_ms": float(delay) * 1000, "error": "overloaded"}  # fmt: skip
        out.write(json.dumps(line) + "\n")
        out.flush()
        until = time.process_time() + float(burn)
        while time.process_time() < until:
            pass
        time.sleep(float(delay))


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


def agent_mix(size: str, seed: str = "1") -> None:
    """``size`` bytes of an agent's stdout drowned in other output (see ``agent_mix_pieces``)."""
    for piece in agent_mix_pieces(int(size), int(seed)):
        view = memoryview(piece)
        while view:
            view = view[os.write(1, view) :]


AGENT_CALL = b'{"type":"assistant"'  # how every tool call's line starts, and no other line


def agent_mix_pieces(size: int, seed: int) -> Iterator[bytes]:
    """The stream of ``agent_mix``, in the writes it makes (deterministic for a seed).

    Runs of build-log lines (up to 2 MiB, some lines 100 KB long), of binary
    bytes without a newline (up to 1 MiB), and of stream-json tool calls,
    alone or 10-300 in a row, between a session's init and result lines.  Each
    tool call is written in two halves, so a read of the wrapper can end
    inside it; each starts with ``AGENT_CALL`` and names a tool ``Bash`` of its
    own id.
    """
    import random

    rng = random.Random(seed)
    text = _log_lines(rng, 2 << 20)
    binary = rng.randbytes(1 << 20).replace(b"\n", b"x")
    head = b'{"type":"system","subtype":"init","session_id":"mix"}\n'
    yield head
    sent, calls, ends_line = len(head), 0, True
    while sent < size:
        kind = rng.random()
        if kind < 0.55:
            start = rng.randrange(len(text))
            pieces = [text[start : start + rng.randint(1, 2 << 20)]]
        elif kind < 0.7:
            pieces = [binary[: rng.randint(1, 1 << 20)]]
        else:
            pieces = [] if ends_line else [b"\n"]
            for _ in range(1 if kind < 0.9 else rng.randint(10, 300)):
                line = _tool_call(calls, rng.randint(0, 3000))
                cut = rng.randint(len(AGENT_CALL), len(line) - 1)
                pieces += [line[:cut], line[cut:]]
                calls += 1
        for piece in pieces:
            sent += len(piece)
            yield piece
        ends_line = pieces[-1].endswith(b"\n")
    yield b'\n{"type":"result","subtype":"success","is_error":false,"result":"done"}\nno newline'


def _log_lines(rng: Random, size: int) -> bytes:
    """Lines as a build prints them, 0-200 bytes, one in a hundred 100 KB long."""
    lines = []
    total = 0
    while total < size:
        width = 100_000 if rng.random() < 0.01 else rng.randint(0, 200)
        line = f"[{total}] cc -c unit.c -o unit.o {'-O2 ' * (width // 4)}"[:width] + "\n"
        lines.append(line.encode())
        total += len(lines[-1])
    return b"".join(lines)


def _tool_call(number: int, pad: int) -> bytes:
    """One stream-json line of Claude Code's: an assistant message calling Bash."""
    block = {
        "type": "tool_use",
        "id": f"toolu_{number:06d}",
        "name": "Bash",
        "input": {"command": f"echo {number}", "pad": "p" * pad},
    }
    message = {"id": "msg_mix", "role": "assistant", "content": [block]}
    return (
        json.dumps({"type": "assistant", "message": message}, separators=(",", ":")).encode()
        + b"\n"
    )


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


# --- healthy work: what a traced CI step does all day, and no anomaly ------------


def pool(tasks: str = "300", width: str = "2") -> None:
    """A multiprocessing pool mapping small CPU-bound tasks; workers are replaced as they age."""
    import multiprocessing

    workers = multiprocessing.Pool(int(width), maxtasksperchild=25)
    workers.map(_square_sum, [20_000] * int(tasks), chunksize=1)
    workers.close()
    workers.join()


def _square_sum(n: int) -> int:
    return sum(i * i for i in range(n))


def shell_loop(count: int = 2000) -> list[str]:
    """A shell running a short command ``count`` times: fork, exec, reap, as fast as it can."""
    return ["sh", "-c", f"for i in $(seq {count}); do /bin/true; done"]


def parallel_jobs(count: int = 30) -> list[str]:
    """A shell starting ``count`` short jobs at once, then waiting for them all."""
    return ["sh", "-c", f"for i in $(seq {count}); do sleep 0.5 & done; wait"]


def exec_after(seconds: float, argv: list[str]) -> list[str]:
    """A shell that exec's the real program after a while (a small RSS, then a larger one)."""
    return ["sh", "-c", f'sleep {seconds} && exec "$@"', "sh", *argv]


def c_project(folder: Path, files: int = 16) -> list[str]:
    """Write a small C project; the argv of building it with ``make -j2``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (folder / f"unit{i}.c").write_text(f"int unit{i}(int x) {{ return x * {i} + 1; }}\n")
    (folder / "main.c").write_text("int main(void) { return 0; }\n")
    objects = " ".join(f"unit{i}.o" for i in range(files))
    (folder / "Makefile").write_text(
        f"prog: main.o {objects}\n\t$(CC) -o $@ $^\n"
        "%.o: %.c\n\t$(CC) -O0 -c -o $@ $<\n"
        "clean:\n\trm -f *.o prog\n"
    )
    return ["make", "-s", "-j2", "-C", str(folder)]


def generated_suite(folder: Path, tests: int = 40) -> list[str]:
    """Write a small pytest suite (some tests run a subprocess); the argv of running it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "test_generated.py").write_text(
        "import subprocess\n"
        "import pytest\n\n"
        f"@pytest.mark.parametrize('n', range({tests}))\n"
        "def test_sum(n):\n"
        "    assert sum(range(n * 1000)) == n * 1000 * (n * 1000 - 1) // 2\n\n"
        "@pytest.mark.parametrize('n', range(5))\n"
        "def test_subprocess(n, tmp_path):\n"
        "    (tmp_path / 'f').write_text(str(n))\n"
        "    assert subprocess.run(['cat', str(tmp_path / 'f')], capture_output=True).stdout\n"
    )
    basetemp = folder / "tmp"  # its own: pytest prunes old ones where it keeps them
    return [
        *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
        *("--basetemp", str(basetemp), str(folder / "test_generated.py")),
    ]


def one_after_another(*argvs: list[str], seconds: float = 0) -> list[str]:
    """A shell running the commands in turn, again until ``seconds`` have passed.

    It stops at the first command that fails, with its status.
    """
    steps = " && ".join(shlex.join(argv) for argv in argvs)
    return ["sh", "-c", f"end=$(($(date +%s) + {seconds:.0f})); while :; do {steps} || exit; "
            '[ "$(date +%s)" -ge "$end" ] && exit 0; done']  # fmt: skip


def account(
    mb: str = "100", loops: str = "2000000", io_kb: str = "4096", folder: str = "."
) -> None:
    """Deterministic work for the kernel's totals: touch ``mb`` MiB, spin ``loops`` rounds,
    write ``io_kb`` KiB to disk (fsync'd) and read it back past the page cache (O_DIRECT)."""
    import mmap

    hoard = bytearray(int(mb) << 20)
    hoard[:: mmap.PAGESIZE] = b"x" * (len(hoard) // mmap.PAGESIZE)  # every page resident
    total = 0
    for i in range(int(loops)):
        total += i * i
    path = os.path.join(folder, f"account-{os.getpid()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, b"x" * (int(io_kb) << 10))
    os.fsync(fd)
    os.close(fd)
    chunk = mmap.mmap(-1, 1 << 20)  # page-aligned, as O_DIRECT wants
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECT", 0))
    except OSError:  # a file system without O_DIRECT (tmpfs): read from the page cache
        fd = os.open(path, os.O_RDONLY)
    try:
        offset = 0
        while read := os.preadv(fd, [chunk], offset):
            offset += read
    finally:
        os.close(fd)
        os.unlink(path)


def orphan_then_wait(mb: str = "200", leave: str = "no") -> None:
    """Leave a short-lived orphan that touches ``mb`` MiB, and exit once someone reaped it.

    The middle process exits at once, so the grandchild is re-parented (to
    the wrapper, a subreaper); ``kill(pid, 0)`` finds it until it is reaped.
    With ``leave=yes`` the orphan stays 30 s and the command exits at once.
    """
    reader, writer = os.pipe()
    middle = os.fork()
    if middle == 0:
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):  # the pipes of whoever waits for the command's output
                os.dup2(devnull, fd)
            hoard = bytearray(int(mb) << 20)
            hoard[::4096] = b"x" * (len(hoard) // 4096)
            os.write(writer, str(os.getpid()).encode())
            time.sleep(30 if leave == "yes" else 0.2)
            os._exit(0)
        os._exit(0)
    os.waitpid(middle, 0)
    os.close(writer)
    orphan = int(os.read(reader, 32))
    if leave == "yes":
        print(orphan, flush=True)
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(orphan, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
    raise SystemExit("the orphan was never reaped")


def _write_json(path: str, value: object) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        json.dump(value, handle)
    os.replace(tmp, path)


def next_snapshot(*_marker: str) -> None:
    """Live until the wrapper writes its next snapshot line, then exit: one sighting."""
    trace = os.path.join(os.environ["AUTOSKILLIT_TRACE_SESSION_DIR"], "proc_trace.jsonl")
    lines = Path(trace).read_bytes().count(b"\n")
    while Path(trace).read_bytes().count(b"\n") <= lines:
        time.sleep(0.005)


def reuse_pid(seconds: str = "0.6") -> None:
    """Two children with one pid, the second made by choosing the next pid (ns_last_pid);
    prints "reused" when that worked, nothing where the next pid cannot be chosen."""
    import subprocess

    code = f"import time; time.sleep({float(seconds)})"
    first = subprocess.Popen([sys.executable, "-c", code, "first"])
    first.wait()
    for _ in range(20):  # another process may take the pid first
        try:
            Path("/proc/sys/kernel/ns_last_pid").write_text(str(first.pid - 1))
        except OSError:
            return
        second = subprocess.Popen([sys.executable, "-c", code, "second"])
        second.wait()
        if second.pid == first.pid:
            print("reused")
            return


WORKLOADS = {
    "grow": grow,
    "fds": fds,
    "zombie": zombie,
    "sigpending": sigpending,
    "oom": oom,
    "exit": exit_with,
    "die-by": die_by,
    "count-signals": count_signals,
    "count-blocked": count_blocked,
    "interleave": interleave,
    "sleep": sleep,
    "echo": echo,
    "replay": replay,
    "retry-forever": retry_forever,
    "blob": blob,
    "agent-mix": agent_mix,
    "ready-sleep": ready_sleep,
    "gateway": gateway,
    "hostile-redaction": hostile_redaction,
    "stubborn-tree": stubborn_tree,
    "churn": churn,
    "daemonize": daemonize,
    "orchestrate": orchestrate,
    "argv": argv,
    "undumpable": undumpable,
    "pool": pool,
    "account": account,
    "orphan-then-wait": orphan_then_wait,
    "next-snapshot": next_snapshot,
    "reuse-pid": reuse_pid,
}

if __name__ == "__main__":
    WORKLOADS[sys.argv[1]](*sys.argv[2:])
