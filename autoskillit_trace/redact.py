"""Secrets out of what is recorded: command lines, working directories, messages.

Session folders keep the command line for the life of the session and beyond,
so anything that looks like a credential is replaced by ``[REDACTED]`` before
it is written anywhere.  Only the recorded text changes; the child always gets
its real arguments.

Three kinds of rule:
- an option whose name says it holds a secret (``--token X``, ``--token=X``):
  its value goes;
- ``NAME=value`` where NAME contains TOKEN, SECRET, PASSWORD/PASSWD or KEY:
  the value goes;
- text patterns: credentials in URLs, bearer tokens, well-known key formats,
  and the user's own ``linux_tracing.redact_patterns``.  A pattern without
  groups redacts its whole match; a pattern with groups redacts only what
  its groups matched.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable, Sequence

MASK = "[REDACTED]"

# Every built-in rule below needs one of these fragments (compared lower-cased):
# text holding none of them cannot hold a secret the rules would find, so the
# regexes are neither compiled nor run (most commands: ``make test``, ``true``).
# A new rule must add its fragment here; test_redact checks the two agree.
TRIGGERS: tuple[str, ...] = (
    "://", "bearer", "sk-", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-",
    "akia", "asia", "xox", "aiza", "npm_", "eyj", "-----begin",
)  # fmt: skip
# Words that name a secret.  Every rule built on them also needs an option's
# "-", an assignment's "=" or a header's ":", so without one of those they
# trigger nothing: a working directory such as ``/home/monkey/passport``
# compiles no rules (~5 ms of a start).
WORD_TRIGGERS: tuple[str, ...] = ("token", "secret", "pass", "pwd", "key", "credential", "auth")


def might_hold_secret(text: str) -> bool:
    """False when no built-in rule can match ``text``."""
    lowered = text.lower()
    for trigger in TRIGGERS:
        if trigger in lowered:
            return True
    if "-" not in text and "=" not in text and ":" not in text:
        return False
    return any(word in lowered for word in WORD_TRIGGERS)


# A long or short option whose name says its value is a secret.
_SECRET_WORD = (
    r"(?:token|secret|passw(?:or)?d|passphrase|pwd|api[-_]?key|access[-_]?key"
    r"|private[-_]?key|client[-_]?secret|credentials?|auth(?:orization)?)"
)
_SECRET_OPTION = rf"^--?(?!no-)(?:[a-z0-9]+[-_])*{_SECRET_WORD}(?:[-_][a-z0-9]+)*$"

# NAME=value (also inside a shell script: ``sh -c 'API_KEY=x make'``); the value
# goes when NAME is telling.  Split in two so that long words cost linear time.
_ASSIGNMENT = r"\b[A-Za-z0-9_]+=(?:\"([^\"]*)\"|'([^']*)'|([^\s'\"&;|]+))"
_TELLING_NAME = r"(?i)TOKEN|SECRET|PASSWORD|PASSWD|KEY"

# Built-in patterns; groups mark the part that is replaced.
DEFAULT_PATTERNS: tuple[str, ...] = (
    # Options written inside one argument, such as a shell script: ``--token=x`` / ``--token x``.
    rf"(?i)(?<![\w-])--?(?:[a-z0-9]+[-_])*{_SECRET_WORD}(?:[-_][a-z0-9]+)*[= ]([^\s'\"-][^\s'\"]*)",
    # user:password@host in a URL.
    r"(?i)(?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,30}://[^/\s:@]*:([^/\s@]+)@",
    # HTTP headers: ``Authorization: Bearer x``, ``Authorization: Basic x``, ``X-Api-Key: x``.
    r"(?i)\b(?:proxy-)?authorization\s*:\s*(?:(?:bearer|basic|digest|token)\s+)?([^\s'\"]+)",
    r"(?i)\b(?:x-api-key|api-key|x-auth-token|private-token)\s*:\s*([^\s'\"]+)",
    r"(?i)\bbearer\s+([A-Za-z0-9._~+/=-]{4,})",
    # Well-known key formats.
    r"\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}",
    r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}",
    r"\bgithub_pat_[A-Za-z0-9_]{20,}",
    r"\bglpat-[A-Za-z0-9_-]{20,}",
    r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
    r"\bxox[abposr]-[A-Za-z0-9-]{10,}",
    r"\bAIza[A-Za-z0-9_-]{35}",
    r"\bnpm_[A-Za-z0-9]{36}",
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+",  # JWT
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)",
)


def compile_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """Compile ``patterns``; raises ValueError naming the first that does not compile.

    ``re`` is imported here, not with the module: most commands hold no
    secret, and ``run`` then never pays its ~6 ms import.
    """
    patterns = list(patterns)
    if not patterns:
        return []
    import re

    compiled = []
    for number, pattern in enumerate(patterns, 1):
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            raise ValueError(f"pattern {number} {pattern!r} does not compile: {exc}") from None
    return compiled


class _Rules:
    """The built-in rules, compiled once, when first needed."""

    compiled: _Rules | None = None

    def __init__(self) -> None:
        import re

        self.option = re.compile(_SECRET_OPTION, re.I)
        self.assignment = re.compile(_ASSIGNMENT)
        self.telling_name = re.compile(_TELLING_NAME)
        self.patterns = compile_patterns(DEFAULT_PATTERNS)

    @classmethod
    def get(cls) -> _Rules:
        if cls.compiled is None:
            cls.compiled = cls()
        return cls.compiled


class Redactor:
    """Redacts text and argument lists with the built-in patterns plus ``extra``."""

    def __init__(self, extra: Sequence[str] = ()) -> None:
        self.extra = compile_patterns(extra)

    def text(self, text: str) -> str:
        """``text`` with every pattern's secret part replaced by ``[REDACTED]``."""
        if might_hold_secret(text):
            rules = _Rules.get()
            if "=" in text:
                text = rules.assignment.sub(_replace_assignment, text)
            for pattern in rules.patterns:
                text = pattern.sub(_replace, text)
        for pattern in self.extra:
            text = pattern.sub(_replace, text)
        return text

    def argv(self, argv: Sequence[str]) -> list[str]:
        """The arguments as they may be recorded; the value after a secret option goes."""
        out: list[str] = []
        hide_next = False
        for arg in argv:
            if hide_next:
                out.append(MASK)
                hide_next = False
                continue
            if might_hold_secret(arg) and (
                _Rules.get().option.match(arg) or arg.lower() in ("bearer", "authorization:")
            ):
                hide_next = True
            out.append(self.text(arg))
        return out


def _replace_assignment(match: re.Match[str]) -> str:
    name = match.group(0).partition("=")[0]
    return _replace(match) if _Rules.get().telling_name.search(name) else match.group(0)


def _replace(match: re.Match[str]) -> str:
    """The match with its groups (or, without groups, all of it) masked."""
    if match.re.groups == 0:
        return MASK
    whole = match.group(0)
    start = match.start()
    pieces: list[str] = []
    position = 0
    for index in range(1, match.re.groups + 1):
        begin, end = match.span(index)
        if begin < 0 or begin - start < position:
            continue  # the group did not take part, or nests inside one already masked
        pieces.append(whole[position : begin - start])
        pieces.append(MASK)
        position = end - start
    pieces.append(whole[position:])
    return "".join(pieces)
