"""Real Prometheus, Pushgateway and node_exporter on loopback ports, for the export tests.

Started as plain subprocesses with temporary data folders (never systemd);
every wait is bounded and every server is killed when the test is over.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BINARIES = {
    "prometheus": "prometheus",
    "pushgateway": "prometheus-pushgateway",
    "node_exporter": "prometheus-node-exporter",
}
START_TIMEOUT = 20.0


def missing() -> list[str]:
    """The Debian binaries that are not installed."""
    return [binary for binary in BINARIES.values() if shutil.which(binary) is None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(url: str, timeout: float = 2.0) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body: bytes = response.read()
        return body


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: server exited: {log.read_text()[-2000:]}")
        try:
            get(url, timeout=1.0)
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url} not ready after {START_TIMEOUT}s: {log.read_text()[-2000:]}")


class Stack:
    """The three servers; ``query`` asks Prometheus' HTTP API."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.textfile_dir = base / "textfiles"
        self.textfile_dir.mkdir()
        self.pushgateway = f"http://127.0.0.1:{free_port()}"
        self.node_exporter = f"http://127.0.0.1:{free_port()}"
        self.prometheus = f"http://127.0.0.1:{free_port()}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def _start(self, name: str, args: list[str], ready: str) -> None:
        log = self.base / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [BINARIES[name], *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.base,
            )
        self.procs.append(proc)
        wait_http(ready, proc, log)

    def start(self) -> None:
        host = lambda url: url.split("//", 1)[1]  # noqa: E731
        self._start(
            "pushgateway", [f"--web.listen-address={host(self.pushgateway)}"], self.pushgateway
        )
        self._start(
            "node_exporter",
            [
                f"--web.listen-address={host(self.node_exporter)}",
                "--collector.disable-defaults",
                "--collector.textfile",
                f"--collector.textfile.directory={self.textfile_dir}",
            ],
            self.node_exporter + "/metrics",
        )
        config = self.base / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: pushgateway\n    honor_labels: true\n"
            f"    static_configs: [{{targets: ['{host(self.pushgateway)}']}}]\n"
            "  - job_name: node\n"
            f"    static_configs: [{{targets: ['{host(self.node_exporter)}']}}]\n"
        )
        self._start(
            "prometheus",
            [
                f"--config.file={config}",
                f"--storage.tsdb.path={self.base / 'tsdb'}",
                f"--web.listen-address={host(self.prometheus)}",
            ],
            self.prometheus + "/-/ready",
        )

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(timeout=10)

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        reply = json.loads(get(url))
        assert reply["status"] == "success", reply
        result: list[dict[str, Any]] = reply["data"]["result"]
        return result

    def wait_query(
        self, promql: str, count: int = 1, timeout: float = 20.0
    ) -> list[dict[str, Any]]:
        """The query's result once it has at least ``count`` series (bounded wait)."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(promql)
            if len(result) >= count:
                return result
            time.sleep(0.25)
        raise AssertionError(f"{promql!r}: {len(result)} series after {timeout}s: {result}")


@contextmanager
def running_stack(base: Path) -> Iterator[Stack]:
    stack = Stack(base)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def value(result: list[dict[str, Any]]) -> float:
    """The one sample of a query's result."""
    assert len(result) == 1, result
    sample = result[0]["value"]
    assert isinstance(sample, list)
    return float(sample[1])
