"""Load, validate and merge autoskillit-trace settings.

Five layers, lowest to highest: built-in defaults < user file < project file <
environment < command line.  Every effective value remembers the layer it came
from so ``config show`` can explain it.

This module runs on the start-up path of every wrapped command, so it imports
only cheap stdlib modules: ``yaml`` is imported only when a config file exists,
``platformdirs`` only off Linux, ``difflib`` only to word an error message.
Paths are plain ``str`` (``pathlib`` costs ~6 ms to import), written as
pathlib would write them.
"""

from __future__ import annotations

import os
import sys
from types import MappingProxyType

from autoskillit_trace.fsutil import open_regular
from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from _typeshed import StrPath

APP_NAME = "autoskillit"
CONFIG_NAME = "config.yaml"
PROJECT_DIR = ".autoskillit"
ENV_PREFIX = "AUTOSKILLIT_"

DEFAULT = "default"
USER_FILE = "user file"
PROJECT_FILE = "project file"
ENVIRONMENT = "environment"
COMMAND_LINE = "command line"


class ConfigError(Exception):
    """A configuration problem; ``str(e)`` is one line for ``autoskillit-trace: error: ...``."""

    def __init__(self, message: str) -> None:
        # One line always: a path or value with a newline must not break the CLI's error format.
        super().__init__(" ".join(message.splitlines()))


# --- value types: how raw input becomes a typed value ------------------------
# ``from_text`` reads strings from the environment or command line; ``from_value``
# reads YAML values and already-typed option values.  Both raise ValueError or
# TypeError on bad input; ``base`` is the directory relative paths resolve
# against, or None where relative paths are not allowed (config files).

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


def _bool_from_text(text: str, base: str | None) -> bool:
    word = text.strip().lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError(text)


def _bool_from_value(value: object, base: str | None) -> bool:
    if isinstance(value, bool):
        return value
    raise TypeError(value)


def _int_from_text(text: str, base: str | None) -> int:
    return int(text, 0)  # Python int literals: 12, 0x1f, 1_000


def _int_from_value(value: object, base: str | None) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise TypeError(value)


def _float_from_text(text: str, base: str | None) -> float:
    try:
        return float(int(text, 0))
    except ValueError:
        return float(text)


def _float_from_value(value: object, base: str | None) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(value)


def _is_anchored(path: str) -> bool:
    """True for paths that do not depend on the working directory."""
    return os.path.isabs(path) or path.startswith("~")


def _path_from_value(value: object, base: str | None) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(value)
    if "\0" in value:
        raise _Unusable("a path cannot hold a NUL byte")
    if value.startswith("~") and value[1:2] not in ("", "/") and os.path.expanduser(value) == value:
        user = value[1:].split("/", 1)[0]
        raise _Unusable(f"there is no user {user!r} here for {value!r}")
    if base is not None and value and not _is_anchored(value):
        return os.path.abspath(os.path.join(base, value))
    return value


def _path_from_text(text: str, base: str | None) -> str:
    return _path_from_value(text, base)


class _Unusable(ValueError):
    """A value of the right type that still cannot be used; the message says why."""


def _patterns_from_value(value: object, base: str | None) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(p, str) for p in value):
        raise TypeError(value)
    from autoskillit_trace.redact import compile_patterns

    try:
        compile_patterns(value)
    except ValueError as exc:
        raise _Unusable(str(exc)) from None
    return tuple(value)


def _patterns_from_text(text: str, base: str | None) -> tuple[str, ...]:
    """A JSON list of strings, or one pattern (empty: none)."""
    if text.lstrip().startswith("["):
        import json

        try:
            value = json.loads(text)
        except RecursionError:
            raise ValueError(text) from None
        return _patterns_from_value(value, base)
    return _patterns_from_value([text] if text else [], base)


def _url_from_value(value: object, base: str | None) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value.strip()


def _url_from_text(text: str, base: str | None) -> str:
    return _url_from_value(text, base)


def _labels_from_value(value: object, base: str | None) -> tuple[tuple[str, str], ...]:
    """A mapping ``{name: value}`` or a list of ``name=value``; names checked for Prometheus."""
    from autoskillit_trace.metrics import parse_label

    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value) or not all(
            isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value.values()
        ):
            raise TypeError(value)
        items = [f"{k}={v}" for k, v in value.items()]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = list(value)
    else:
        raise TypeError(value)
    try:
        return tuple(parse_label(item) for item in items)
    except ValueError as exc:
        raise _Unusable(str(exc)) from None


def _labels_from_text(text: str, base: str | None) -> tuple[tuple[str, str], ...]:
    """``name=value,name=value`` (or a JSON object or list)."""
    if text.lstrip().startswith(("{", "[")):
        import json

        try:
            value = json.loads(text)
        except RecursionError:
            raise ValueError(text) from None
        return _labels_from_value(value, base)
    return _labels_from_value([part.strip() for part in text.split(",") if part.strip()], base)


def _agent_format_from_value(value: object, base: str | None) -> str:
    """``auto`` or a stream format's name; the registry is read only for another name."""
    if not isinstance(value, str):
        raise TypeError(value)
    if value != "auto":
        from autoskillit_trace.agents import format_problem

        problem = format_problem(value)
        if problem is not None:
            raise _Unusable(problem)
    return value


def _job_from_value(value: object, base: str | None) -> str:
    """A job name given by hand (empty: derived from the command line); one line of text."""
    if not isinstance(value, str):
        raise TypeError(value)
    if value:
        from autoskillit_trace.jobkey import valid_job_name

        problem = valid_job_name(value)
        if problem is not None:
            raise _Unusable(f"invalid job name {_short(repr(value), 60)}: {problem}")
    return value


class ValueType(Record):
    """How one kind of setting is read from text and from typed values."""

    __slots__ = ("from_text", "from_value", "name", "text_hint")

    def __init__(
        self,
        name: str,
        from_text: Callable[[str, str | None], object],
        from_value: Callable[[object, str | None], object],
        text_hint: str = "",  # appended to the expected-text when the input was a string
    ) -> None:
        self.name = name
        self.from_text = from_text
        self.from_value = from_value
        self.text_hint = text_hint


BOOL = ValueType("bool", _bool_from_text, _bool_from_value, " (or yes/no, on/off, 1/0)")
INT = ValueType("int", _int_from_text, _int_from_value)
FLOAT = ValueType("float", _float_from_text, _float_from_value)
PATH = ValueType("path", _path_from_text, _path_from_value)
REGEX_LIST = ValueType(
    "regex list", _patterns_from_text, _patterns_from_value, " (a JSON list of strings, or one)"
)
URL = ValueType("url", _url_from_text, _url_from_value)
AGENT_FORMAT = ValueType("agent format", _agent_format_from_value, _agent_format_from_value)
LABELS = ValueType(
    "labels", _labels_from_text, _labels_from_value, " (name=value,name=value, or a JSON object)"
)
JOB = ValueType("job name", _job_from_value, _job_from_value)


# --- the schema: one entry per setting ---------------------------------------


def _always(value: Any) -> bool:
    return True


# Below 0.01 s, snapshots (~0.6 ms of CPU each for a lone command, ~3 ms for
# 200 processes) would take much of a CPU; 0.01 s is the finest interval the
# tests run healthy workloads at.  Above a day they tell next to nothing, and
# the wrapper's waits stay far below what poll(2) takes (2**31 ms, ~24.8 days).
MIN_INTERVAL = 0.01
MAX_INTERVAL = 86_400.0


def _interval_range(value: Any) -> bool:
    return bool(MIN_INTERVAL <= value <= MAX_INTERVAL)  # False for nan


def _http_or_empty(value: Any) -> bool:
    """Empty, or an http(s) URL with a host, and a port of 1 to 65535 if any: checked
    here, before the command runs, rather than by the push after it (no urllib at start)."""
    if value == "":
        return True
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not value.isprintable() or " " in value:
        return False
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
    if authority.startswith("["):  # an IPv6 address
        host, bracket, port = authority[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return False
        port = port[1:]
    else:
        host, _, port = authority.partition(":")
    return bool(host) and (port == "" or (port.isdigit() and 0 < int(port) < 65536))


def _at_least_one(value: Any) -> bool:
    return bool(value >= 1)


def _not_negative(value: Any) -> bool:
    return bool(0 <= value < float("inf"))


def _a_run_count(value: Any) -> bool:
    """Runs of a job to compare with: the index is read back only that far."""
    return bool(0 <= value <= 1000)


def _a_factor(value: Any) -> bool:
    return bool(1 < value < float("inf"))


def _anchored_or_empty(value: Any) -> bool:
    return value == "" or _is_anchored(value)


class Setting(Record):
    """One schema entry; adding a setting means adding one of these (and its Settings field)."""

    __slots__ = ("default", "expected", "help", "key", "section", "type", "valid")

    def __init__(
        self,
        section: str,
        key: str,
        type: ValueType,
        default: object,
        valid: Callable[[Any], bool],  # range check on the typed value
        expected: str,  # completes "expected ..." in every error about this key
        help: str,
    ) -> None:
        self.section = section
        self.key = key
        self.type = type
        self.default = default
        self.valid = valid
        self.expected = expected
        self.help = help

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.key}"

    @property
    def attr(self) -> str:
        """The Settings field; keys are unique across sections."""
        return self.key

    @property
    def env_var(self) -> str:
        return f"{ENV_PREFIX}{self.section.upper()}__{self.key.upper()}"


SCHEMA: tuple[Setting, ...] = (
    Setting(
        "linux_tracing", "enabled", BOOL, True, _always, "true or false",
        "record process diagnostics for wrapped commands",
    ),
    Setting(
        "linux_tracing", "proc_interval", FLOAT, 5.0, _interval_range,
        f"a number of seconds from {MIN_INTERVAL:g} to {MAX_INTERVAL:g}",
        "seconds between snapshots",
    ),
    Setting(
        "linux_tracing", "log_dir", PATH, "", _anchored_or_empty,
        "an absolute path or one starting with '~'",
        "where session folders go; empty means the platform default",
    ),
    Setting(
        "linux_tracing", "max_sessions", INT, 500, _at_least_one,
        "a whole number of at least 1", "session folders kept",
    ),
    Setting(
        "linux_tracing", "agent_events", BOOL, False, _always, "true or false",
        "read the command's stdout as an agent's event stream (as --agent-events)",
    ),
    Setting(
        "linux_tracing", "agent_format", AGENT_FORMAT, "auto", _always,
        "auto or the name of a stream format",
        "the stream format of --agent-events; auto: by the command's name, else claude",
    ),
    Setting(
        "linux_tracing", "redact_patterns", REGEX_LIST, (), _always,
        "a list of regular expressions",
        "extra regexes whose matches are redacted from recorded command lines",
    ),
    Setting(
        "linux_tracing", "pushgateway_url", URL, "", _http_or_empty,
        "an http:// or https:// URL with a host (a port, if any, of 1 to 65535), or empty",
        "Prometheus Pushgateway that receives each session's metrics; empty: no push",
    ),
    Setting(
        "linux_tracing", "textfile_dir", PATH, "", _anchored_or_empty,
        "an absolute path or one starting with '~'",
        "folder where node_exporter's textfile collector reads session metrics; empty: none",
    ),
    Setting(
        "linux_tracing", "labels", LABELS, (), _always,
        "a mapping of Prometheus label names to values",
        "extra labels on exported metrics (name: value); --label adds to them",
    ),
    Setting(
        "linux_tracing", "html_report", BOOL, False, _always, "true or false",
        "write report.html, the session's HTML report, into its folder when it ends (as --html)",
    ),
    Setting(
        "linux_tracing", "job", JOB, "", _always,
        "a job name of 1 to 200 printable characters, or empty",
        "the session's job (as --job, or $AUTOSKILLIT_TRACE_JOB); empty: derived from the "
        "command line with temporary paths and id-like numbers taken out",
    ),
    Setting(
        "linux_tracing", "regression_runs", INT, 20, _a_run_count,
        "a whole number from 0 to 1000",
        "a finished session is compared with this many of its job's latest successful "
        "runs (0: no comparison)",
    ),
    Setting(
        "linux_tracing", "regression_min_runs", INT, 5, _at_least_one,
        "a whole number of at least 1",
        "fewer successful runs of the job than this (or than regression_runs): no comparison",
    ),
    Setting(
        "linux_tracing", "regression_factor", FLOAT, 1.5, _a_factor,
        "a number above 1",
        "a figure above this many times its median over the job's runs (and above it by more "
        "than the metric's floor) is a regression",
    ),
    Setting(
        "linux_tracing", "regression_floor_seconds", FLOAT, 1.0, _not_negative,
        "a number of seconds of at least 0",
        "a duration is a regression only if above the median by more than this many seconds",
    ),
    Setting(
        "linux_tracing", "regression_floor_rss_mb", FLOAT, 32.0, _not_negative,
        "a number of MiB of at least 0",
        "a peak tree RSS is a regression only if above the median by more than this many MiB",
    ),
    Setting(
        "linux_tracing", "regression_floor_cpu_seconds", FLOAT, 1.0, _not_negative,
        "a number of seconds of at least 0",
        "total CPU time (user + system, where recorded) is a regression only if above the "
        "median by more than this many seconds",
    ),
)  # fmt: skip

KEYS: tuple[str, ...] = tuple(s.dotted for s in SCHEMA)
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(s.section for s in SCHEMA))
_BY_DOTTED: dict[str, Setting] = {s.dotted: s for s in SCHEMA}
_BY_ENV: dict[str, Setting] = {s.env_var: s for s in SCHEMA}
_ENV_PREFIXES: dict[str, str] = {f"{ENV_PREFIX}{s.upper()}__": s for s in SECTIONS}


class Settings(Record):
    """The effective settings: one attribute per SCHEMA entry, its default from there."""

    __slots__ = tuple(setting.attr for setting in SCHEMA)
    enabled: bool
    proc_interval: float
    log_dir: str
    max_sessions: int
    agent_events: bool
    agent_format: str
    redact_patterns: tuple[str, ...]
    pushgateway_url: str
    textfile_dir: str
    labels: tuple[tuple[str, str], ...]
    html_report: bool
    job: str
    regression_runs: int
    regression_min_runs: int
    regression_factor: float
    regression_floor_seconds: float
    regression_floor_rss_mb: float
    regression_floor_cpu_seconds: float

    def __init__(self, **values: object) -> None:
        for setting in SCHEMA:
            setattr(self, setting.attr, values.pop(setting.attr, setting.default))
        if values:
            raise TypeError(f"unknown settings: {', '.join(values)}")


class Source(Record):
    """Where one effective value came from, for ``config show``."""

    __slots__ = ("kind", "where")

    def __init__(self, kind: str, where: str | None = None) -> None:
        self.kind = kind  # "default" | "user file" | "project file" | "environment" | ...
        self.where = where  # file path, variable name or option as typed

    def __str__(self) -> str:
        return self.kind if self.where is None else f"{self.kind} {self.where}"


class Resolved(Record):
    """The merged settings plus the provenance of each value."""

    __slots__ = ("project_file", "settings", "sources", "user_file")

    def __init__(
        self,
        settings: Settings,
        sources: dict[str, Source],
        user_file: str,
        project_file: str | None,
    ) -> None:
        self.settings = settings
        self.sources = sources
        self.user_file = user_file
        self.project_file = project_file


_Layer = dict[str, tuple[object, Source]]
_DEFAULT_SOURCE = Source(DEFAULT)
_NO_OVERRIDES: Mapping[str, tuple[str, object]] = MappingProxyType({})


# --- error wording ------------------------------------------------------------


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _got(value: object) -> str:
    """Describe a bad value briefly and on one line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return _short(repr(value))
    if isinstance(value, dict):  # the mapping as read: its values may be what is wrong
        return f"a mapping {_short(repr(value), 60)}" if value else "an empty mapping"
    if isinstance(value, (list, tuple)):
        return f"a list {_short(repr(list(value)), 60)}" if value else "an empty list"
    return f"a {type(value).__name__} ({_short(str(value), 40)})"


def _closest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    import difflib

    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    """A ' (did you mean ...?)' hint, or '' when nothing is close."""
    close = _closest(word, choices)
    return "" if close is None else f" (did you mean {close!r}?)"


def _invalid(setting: Setting, where: str, raw: object, *, text: bool) -> ConfigError:
    expected = setting.expected + (setting.type.text_hint if text and isinstance(raw, str) else "")
    return ConfigError(f"{where}: {setting.dotted}: expected {expected}, got {_got(raw)}")


def _convert(setting: Setting, raw: object, where: str, base: str | None, *, text: bool) -> object:
    """Turn a raw value into the setting's type, or raise ConfigError naming ``where``.

    ``text`` marks environment and command-line input, where strings are parsed
    and relative paths resolve against ``base``; file values must already have
    the right YAML type.
    """
    try:
        if text and isinstance(raw, str):
            value = setting.type.from_text(raw, base)
        else:
            value = setting.type.from_value(raw, base)
        if setting.valid(value):
            return value
    except _Unusable as exc:
        raise ConfigError(
            f"{where}: {setting.dotted}: {exc}; expected {setting.expected}"
        ) from None
    except (ValueError, TypeError, OverflowError):
        pass
    raise _invalid(setting, where, raw, text=text)


# --- files ----------------------------------------------------------------------

_loader: Any = None


def _yaml_loader() -> Any:
    """A safe loader (C when available) that also reads YAML 1.2 floats like ``1e-3``.

    PyYAML follows YAML 1.1, where ``1e-3`` is a string; users writing an interval
    that way would otherwise get a baffling type error.
    """
    global _loader
    if _loader is None:
        import re

        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        loader: Any = type("_AutoskillitLoader", (base,), {})
        exponent = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")
        loader.add_implicit_resolver("tag:yaml.org,2002:float", exponent, list("-+.0123456789"))
        _loader = loader
    return _loader


def _read_text(path: str) -> str | None:
    """The file's text, or None when there is no file."""
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        problem = f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        raise ConfigError(f"{path}: line {line}: {problem}") from exc


def _yaml_error(path: str, text: str, exc: Exception) -> ConfigError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    position = getattr(exc, "position", None)
    if mark is not None:
        where = f"line {mark.line + 1}: "
    elif isinstance(position, int):
        where = f"line {text.count(chr(10), 0, position) + 1}: "
    else:
        where = ""
    lines = str(exc).splitlines()
    problem = getattr(exc, "problem", None) or (lines[0] if lines else type(exc).__name__)
    return ConfigError(f"{path}: {where}YAML does not parse: {' '.join(str(problem).split())}")


def _parse_yaml(path: str, text: str) -> object:
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass
    except (yaml.YAMLError, ValueError, OverflowError, RecursionError) as exc:
        # ValueError/OverflowError: e.g. an impossible date like 2020-13-45.
        raise _yaml_error(path, text, exc) from exc


def _document_layer(document: object, path: str, source: Source) -> _Layer:
    """Validate a parsed config document against SCHEMA."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        expected = f"a mapping of sections such as '{SECTIONS[0]}:'"
        raise ConfigError(f"{path}: expected {expected}, got {_got(document)}")
    layer: _Layer = {}
    for section, body in document.items():
        if not isinstance(section, str) or section not in SECTIONS:
            name = _short(repr(section), 60)
            raise ConfigError(
                f"{path}: unknown section {name}{_suggest(str(section), SECTIONS)};"
                f" known sections: {', '.join(SECTIONS)}"
            )
        if body is None:  # every key commented out
            continue
        if not isinstance(body, dict):
            got = _got(body)
            raise ConfigError(f"{path}: {section}: expected a mapping of settings, got {got}")
        for key, value in body.items():
            setting = _BY_DOTTED.get(f"{section}.{key}") if isinstance(key, str) else None
            if setting is None:
                raise _unknown_key(path, section, key)
            layer[setting.dotted] = (_convert(setting, value, path, None, text=False), source)
    return layer


def _unknown_key(path: str, section: str, key: object) -> ConfigError:
    known = [s.key for s in SCHEMA if s.section == section]
    name = _short(repr(f"{section}.{key}"), 60)
    return ConfigError(
        f"{path}: unknown key {name}{_suggest(str(key), known)}; known keys: {', '.join(known)}"
    )


def _file_layer(path: str, kind: str) -> _Layer:
    text = _read_text(path)
    if text is None:
        return {}
    return _document_layer(_parse_yaml(path, text), path, Source(kind, path))


# --- environment and command line -------------------------------------------------


# Environment variables that name a setting outside the AUTOSKILLIT_<SECTION>__<KEY>
# scheme; each wins over that scheme's variable for the same setting.
ENV_ALIASES: dict[str, str] = {"AUTOSKILLIT_TRACE_JOB": "linux_tracing.job"}


def _env_layer(env: Mapping[str, str], base: str) -> _Layer:
    layer: _Layer = {}
    for name in sorted(env):
        section = next((s for p, s in _ENV_PREFIXES.items() if name.startswith(p)), None)
        if section is None:
            continue
        setting = _BY_ENV.get(name)
        if setting is None:
            raise _unknown_env(name, section)
        value = _convert(setting, env[name], name, base, text=True)
        layer[setting.dotted] = (value, Source(ENVIRONMENT, name))
    for name, dotted in ENV_ALIASES.items():
        if env.get(name):
            setting = _BY_DOTTED[dotted]
            value = _convert(setting, env[name], name, base, text=True)
            layer[dotted] = (value, Source(ENVIRONMENT, name))
    return layer


def _unknown_env(name: str, section: str) -> ConfigError:
    settings = [s for s in SCHEMA if s.section == section]
    key = name[len(ENV_PREFIX) + len(section) + 2 :].lower()
    # Match on the key part: the shared prefix would make every variable look close.
    close = _closest(key, [s.key for s in settings])
    hint = "" if close is None else f" (did you mean {_BY_DOTTED[f'{section}.{close}'].env_var!r}?)"
    known = ", ".join(s.env_var for s in settings)
    shown = _short(repr(f"{section}.{key}"), 60)
    return ConfigError(f"{name}: unknown key {shown}{hint}; known variables: {known}")


def _override_layer(overrides: Mapping[str, tuple[str, object]], base: str) -> _Layer:
    layer: _Layer = {}
    for dotted, (option, raw) in overrides.items():
        setting = _BY_DOTTED.get(dotted)
        if setting is None:
            hint = _suggest(dotted, KEYS)
            raise ConfigError(
                f"{option}: unknown key {dotted!r}{hint}; known keys: {', '.join(KEYS)}"
            )
        value = _convert(setting, raw, option, base, text=True)
        layer[dotted] = (value, Source(COMMAND_LINE, option))
    return layer


# --- locations -----------------------------------------------------------------------


def _is_linux() -> bool:
    return sys.platform.startswith("linux")


def _tidy(path: str) -> str:
    """``path`` as ``str(pathlib.Path(path))``: no repeated or trailing '/', no '.' parts.

    Unlike ``os.path.normpath`` it keeps '..': dropping it with the part before
    is wrong when that part is a symlink.
    """
    if path.startswith("//") and not path.startswith("///"):
        root = "//"  # POSIX leaves exactly two leading slashes to the system
    elif path.startswith("/"):
        root = "/"
    else:
        root = ""
    parts = [part for part in path.split("/") if part and part != "."]
    return root + "/".join(parts) if root or parts else "."


def _absolute(path: StrPath) -> str:
    """``path`` against the working directory when relative, as ``pathlib.Path.absolute``."""
    path = os.fspath(path)
    return _tidy(path if os.path.isabs(path) else os.path.join(os.getcwd(), path))


def current_dir() -> str:
    """Where the project file is looked for; ``/`` when the cwd was removed."""
    try:
        return os.getcwd()
    except OSError:
        return "/"


def _home(env: Mapping[str, str]) -> str:
    """The home directory as platformdirs finds it: an absolute $HOME, else the passwd entry."""
    home = env.get("HOME", "")
    if os.path.isabs(home):
        return _tidy(home)
    try:
        import pwd

        return _tidy(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError):
        return _tidy(os.path.expanduser("~"))


def _xdg_dir(env: Mapping[str, str], variable: str, fallback: str) -> str:
    """An XDG base directory: the variable when absolute, else ~/<fallback> (XDG spec)."""
    value = env.get(variable, "")
    return _tidy(value) if os.path.isabs(value) else os.path.join(_home(env), fallback)


def user_config_path(env: Mapping[str, str]) -> str:
    """The user config file, looked at whether or not it exists."""
    if _is_linux():
        return os.path.join(_xdg_dir(env, "XDG_CONFIG_HOME", ".config"), APP_NAME, CONFIG_NAME)
    import platformdirs

    return os.path.join(_tidy(platformdirs.user_config_dir(APP_NAME)), CONFIG_NAME)


def find_project_file(cwd: StrPath) -> str | None:
    """The nearest ``.autoskillit/config.yaml`` from ``cwd`` upwards."""
    directory = _absolute(cwd)
    while True:
        candidate = os.path.join(directory, PROJECT_DIR, CONFIG_NAME)
        if os.path.exists(candidate):
            return candidate
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def default_log_root(env: Mapping[str, str]) -> str:
    """Where session folders go when ``log_dir`` is empty."""
    if _is_linux():
        data = _xdg_dir(env, "XDG_DATA_HOME", os.path.join(".local", "share"))
        return os.path.join(data, APP_NAME, "logs")
    import platformdirs

    return os.path.join(_tidy(platformdirs.user_data_dir(APP_NAME)), "logs")


def _expand_home(path: str, env: Mapping[str, str]) -> str:
    if path == "~" or path[:2] in ("~/", "~" + os.sep):
        return _home(env) + path[1:]
    return os.path.expanduser(path)  # ~user/...


def log_root(settings: Settings, env: Mapping[str, str]) -> str:
    """The effective log directory: the expanded ``log_dir`` or the platform default."""
    if settings.log_dir:
        return _tidy(_expand_home(settings.log_dir, env))
    return default_log_root(env)


# --- loading -----------------------------------------------------------------------


def load(
    cwd: StrPath,
    env: Mapping[str, str],
    overrides: Mapping[str, tuple[str, object]] = _NO_OVERRIDES,
) -> Resolved:
    """Read every layer, validate it, and merge them (later layers win)."""
    base = _absolute(cwd)
    user_file = user_config_path(env)
    project_file = find_project_file(base)
    layers = [_file_layer(user_file, USER_FILE)]
    if project_file is not None:
        layers.append(_file_layer(project_file, PROJECT_FILE))
    layers.append(_env_layer(env, base))
    layers.append(_override_layer(overrides, base))

    values: dict[str, object] = {s.dotted: s.default for s in SCHEMA}
    sources: dict[str, Source] = {s.dotted: _DEFAULT_SOURCE for s in SCHEMA}
    for layer in layers:
        for dotted, (value, source) in layer.items():
            values[dotted] = value
            sources[dotted] = source
    fields = {_BY_DOTTED[dotted].attr: value for dotted, value in values.items()}
    settings = Settings(**fields)
    return Resolved(settings, sources, user_file, project_file)


def describe(resolved: Resolved) -> list[dict[str, object]]:
    """Rows for ``config show``, in schema order; a URL's password is not shown."""
    from autoskillit_trace.redact import Redactor

    hide = Redactor(()).text  # the built-in rules, as in log lines: user:[REDACTED]@host
    rows: list[dict[str, object]] = []
    for setting in SCHEMA:
        source = resolved.sources[setting.dotted]
        value = getattr(resolved.settings, setting.attr)
        if setting.type is URL and value:
            value = hide(value)
        rows.append(
            {
                "key": setting.dotted,
                "value": dict(value) if setting.type is LABELS else value,  # shown as written
                "source": str(source),
                "source_kind": source.kind,
                "source_where": source.where,
                "help": setting.help,
            }
        )
    return rows
