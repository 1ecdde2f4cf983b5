"""A Prometheus Pushgateway: the session's metrics PUT to its group, within a timeout.

The group is the whole label set, slot included, so a push replaces exactly
the previous session of the same command, labels and slot.
"""

from __future__ import annotations

import base64

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from autoskillit_trace.export import Context

PUSH_TIMEOUT = 2.0  # seconds: the longest an unreachable gateway may delay the exit
PUSH_JOB = "autoskillit_trace"


def where(context: Context) -> str:
    """The gateway as a warning names it: user:password@ never reaches a log line."""
    return f"Pushgateway {context.redactor.text(context.settings.pushgateway_url)}"


def send(context: Context) -> None:
    push(context.settings.pushgateway_url, context.metrics, context.labels)


def _segment(name: str, value: str) -> str:
    """One ``/name@base64/value`` path segment: safe for any value, '/' and empty included."""
    if value == "":
        return f"/{name}@base64/="
    encoded = base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
    return f"/{name}@base64/{encoded}"


def grouping_key(labels: Mapping[str, str]) -> dict[str, str]:
    """job (the user's ``job`` label, else autoskillit_trace), instance (host), then the rest.

    The whole label set is the group, so a push replaces exactly the previous
    session of the same command, labels and slot.
    """
    key = {
        "job": labels.get("job") or PUSH_JOB,
        "instance": labels.get("instance") or labels.get("host", ""),
    }
    key.update((k, v) for k, v in labels.items() if k not in key and v != "")
    return key


def push_url(base: str, key: Mapping[str, str]) -> str:
    path = "".join(_segment(name, value) for name, value in key.items())
    return base.rstrip("/") + "/metrics" + path


def push(base: str, text: str, labels: Mapping[str, str], timeout: float = PUSH_TIMEOUT) -> None:
    """PUT the session's metrics to its group, within ``timeout`` seconds in all.

    urllib's timeout bounds each socket operation, not name resolution nor a
    server that answers a byte at a time; the request therefore runs in a
    daemon thread that the wrapper stops waiting for after ``timeout``.
    """
    import threading

    failure: list[BaseException] = []

    def send() -> None:
        try:
            _put(base, text, labels, timeout)
        except BaseException as exc:
            failure.append(exc)

    worker = threading.Thread(target=send, name="pushgateway", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout:g} s")
    if failure:
        raise failure[0]


def _put(base: str, text: str, labels: Mapping[str, str], timeout: float) -> None:
    import urllib.request

    key = grouping_key(labels)
    body = text.encode()
    request = urllib.request.Request(
        push_url(base, key),
        data=body,
        method="PUT",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()
