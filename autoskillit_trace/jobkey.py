"""The job a session belongs to: runs of the same job share a key.

A session's job is ``--job NAME`` when given; otherwise it is derived from
the recorded (redacted, shell-quoted) command line with what changes from
run to run taken out: temporary paths, mktemp-like names and numbers that
look like ids.  Pure code, without ``re``: it runs inside every traced
session, which imports no regex engine.

Rules, applied left to right at each place the text could start a name
(the start, or after a character that is not an ASCII letter or digit):

- a path under ``/tmp/``, ``/var/tmp/`` or ``/dev/shm/`` (not ``./tmp/``,
  ``~/tmp/``) becomes
  ``<tmp>/`` and its last part (``<tmp>`` alone when that part is itself
  mktemp-like); it ends at a blank, a quote, ``:``, ``,``, ``;`` or ``)``;
- a mktemp-like name (``tmp.`` and 6 or more letters or digits, as
  mktemp(1) makes; ``tmp`` and 8 of ``[a-z0-9_]``, as Python's tempfile
  makes) becomes ``<tmp>``;
- a UUID (8-4-4-4-12 hex digits) becomes ``<uuid>``;
- a date, a date and time or a time (``2026-11-30``, ``2026-11-30T01:04:05.1Z``,
  ``20261130T010405Z``, ``01:04:05``, an offset or ``Z`` included) becomes
  ``<time>``;
- a word of 7 or more hex digits, with a digit and a letter among them
  (a commit, a container id), becomes ``<hex>``;
- any run of 4 or more decimal digits becomes ``<n>``.

Only the first ``SCANNED`` characters are read; a key longer than
``MAX_KEY`` is cut and ends with a checksum of the whole normalised text.
"""

from __future__ import annotations

TEMP_ROOTS = ("/tmp/", "/var/tmp/", "/dev/shm/")
SCANNED = 4096  # characters of the command line read: the same first 4 KB, the same job
MAX_KEY = 200  # characters of a key; longer ones are cut and end with a checksum
MIN_DIGITS = 4  # a run of this many digits is an id, a port, a pid or a year: <n>
MIN_HEX = 7  # a word of this many hex digits (a short commit) is <hex>

_DIGITS = "0123456789"
_HEX = frozenset("0123456789abcdefABCDEF")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_TEMPFILE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
_PATH_END = frozenset(" \t\n'\":,;)")


def job_key(command_line: str) -> str:
    """The job of a recorded command line: the same for every run of the same command."""
    text = normalise(command_line[:SCANNED])
    if len(command_line) > SCANNED:
        text += " …"
    if len(text) <= MAX_KEY:
        return text
    import zlib

    return f"{text[: MAX_KEY - 10]}… {zlib.crc32(text.encode()):08x}"


def normalise(text: str) -> str:
    """``text`` with temporary paths, mktemp-like names and id-like numbers replaced."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if i == 0 or text[i - 1] not in _ALNUM:
            end, shown = _rule_at(text, i)
            if end > i:
                out.append(shown)
                i = end
                continue
        char = text[i]
        if char in _DIGITS:
            end = _run(text, i, _DIGITS)
            out.append("<n>" if end - i >= MIN_DIGITS else text[i:end])
            i = end
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _rule_at(text: str, i: int) -> tuple[int, str]:
    """The end and replacement of the rule that matches at ``i``; ``(i, "")`` for none."""
    if i == 0 or text[i - 1] not in ".~":  # /tmp/, not ./tmp/ or ~/tmp/
        for root in TEMP_ROOTS:
            if text.startswith(root, i):
                return _temp_path(text, i, len(root))
    end = _mktemp_name(text, i)
    if end > i:
        return end, "<tmp>"
    for rule, shown in ((_uuid, "<uuid>"), (_timestamp, "<time>"), (_hex_word, "<hex>")):
        end = rule(text, i)
        if end > i and (end == len(text) or text[end] not in _ALNUM):
            return end, shown
    return i, ""


def _run(text: str, i: int, chars: str | frozenset[str]) -> int:
    """Where the run of ``chars`` that starts at ``i`` ends."""
    n = len(text)
    while i < n and text[i] in chars:
        i += 1
    return i


def _temp_path(text: str, i: int, root: int) -> tuple[int, str]:
    """``<tmp>/`` and the path's last part, or ``<tmp>`` when that part is random."""
    end = i + root
    n = len(text)
    while end < n and text[end] not in _PATH_END:
        end += 1
    parts = [part for part in text[i + root : end].split("/") if part]
    last = parts[-1] if parts else ""
    if not last or _mktemp_name(last, 0) == len(last):
        return end, "<tmp>"
    return end, "<tmp>/" + normalise(last)


def _mktemp_name(text: str, i: int) -> int:
    """The end of a mktemp-like name at ``i``, else ``i``."""
    if not text.startswith("tmp", i):
        return i
    if text.startswith("tmp.", i):
        end = _run(text, i + 4, _ALNUM)
        return end if end - (i + 4) >= 6 else i
    end = _run(text, i + 3, _TEMPFILE)
    return end if end - (i + 3) == 8 else i


def _uuid(text: str, i: int) -> int:
    position = i
    for length in (8, 4, 4, 4, 12):
        if position > i:
            if not text.startswith("-", position):
                return i
            position += 1
        end = _run(text, position, _HEX)
        if end - position != length:
            return i
        position = end
    return position


def _digits(text: str, i: int, count: int) -> int:
    """``i + count`` when ``count`` digits start at ``i``, else -1."""
    end = i + count
    return end if end <= len(text) and text[i:end].isdigit() and text[i:end].isascii() else -1


def _timestamp(text: str, i: int) -> int:
    """The end of a date (and time), or of a time with seconds, at ``i``; else ``i``."""
    end = _date(text, i)
    if end > i:
        if end < len(text) and text[end] in "T_":
            after = _time(text, end + 1)
            end = after if after > end + 1 else end
        return end
    return _time(text, i) if _digits(text, i, 2) > 0 and text[i + 2 : i + 3] == ":" else i


def _date(text: str, i: int) -> int:
    """``2026-11-30``, or ``20261130`` when a time follows (``T``): else ``i``."""
    year = _digits(text, i, 4)
    if year < 0:
        return i
    if text.startswith("-", year):
        month = _digits(text, year + 1, 2)
        if month > 0 and text.startswith("-", month):
            day = _digits(text, month + 1, 2)
            return day if day > 0 else i
        return i
    day = _digits(text, year, 4)
    return day if day > 0 and text.startswith("T", day) and _time(text, day + 1) > day + 1 else i


def _time(text: str, i: int) -> int:
    """``01:04:05`` or ``010405``, a fraction and a zone may follow; else ``i``."""
    hour = _digits(text, i, 2)
    if hour < 0:
        return i
    colon = text.startswith(":", hour)
    minute = _digits(text, hour + colon, 2)
    if minute < 0 or (colon and not text.startswith(":", minute)):
        return i
    second = _digits(text, minute + colon, 2)
    if second < 0:
        return i
    end = second
    if text[end : end + 1] in (".", ",") and text[end + 1 : end + 2].isdigit():
        end = _run(text, end + 1, _DIGITS)
    if text.startswith("Z", end):
        return end + 1
    if text[end : end + 1] in ("+", "-"):
        zone = _digits(text, end + 1, 2)
        if zone > 0:
            zone_colon = text.startswith(":", zone)
            minutes = _digits(text, zone + zone_colon, 2)
            return minutes if minutes > 0 else zone
    return end


def _hex_word(text: str, i: int) -> int:
    end = _run(text, i, _HEX)
    word = text[i:end]
    if len(word) < MIN_HEX or word.isdigit() or word.isalpha():
        return i
    return end


def valid_job_name(name: str) -> str | None:
    """Why ``name`` cannot be a job name given by hand, or None when it can."""
    if not name.strip():
        return "it is blank"
    if len(name) > MAX_KEY:
        return f"it is longer than {MAX_KEY} characters"
    if not name.isprintable():
        return "it holds a control character (a newline, a tab...)"
    return None
