"""Secrets out of what is recorded: command lines, working directories, messages.

Session folders keep the command line for the life of the session and beyond,
so anything that looks like a credential is replaced by ``[REDACTED]`` before
it is written anywhere.  Only the recorded text changes; the child always gets
its real arguments.

Four kinds of rule:
- an option whose name says it holds a secret (``--token X``, ``--token=X``):
  its value goes;
- ``NAME=value`` where NAME contains TOKEN, SECRET, PASSWORD/PASSWD or KEY, or
  is a variable a known program reads its password from (``MYSQL_PWD``):
  the value goes;
- per program (``PROGRAMS``): options whose meaning depends on the program,
  such as ``mysql -pX``, ``docker login -p X``, ``curl -u user:X``, read from
  any word that names the program (``sudo mysql``, ``env A=1 mysql``), also
  inside a shell script (``sh -c 'mysql -pX'``) and a command line from /proc;
- text patterns: credentials in URLs, bearer tokens, well-known key formats,
  and the user's own ``linux_tracing.redact_patterns``.  A pattern without
  groups redacts its whole match; a pattern with groups redacts only what
  its groups matched.
"""

from __future__ import annotations

import os

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
    return _patterns_might_match(text) or names_a_program(text)


def _patterns_might_match(text: str) -> bool:
    """False when no regex of the built-in rules can match ``text``."""
    lowered = text.lower()
    for trigger in TRIGGERS:
        if trigger in lowered:
            return True
    if "-" not in text and "=" not in text and ":" not in text:
        return False
    return any(word in lowered for word in WORD_TRIGGERS)


class Program:
    """How a family of programs takes a secret on its command line: one line of ``PROGRAMS``.

    An option's name alone says nothing here: ``-p`` is mysql's password, but
    ssh's port and docker run's port mapping; so each line names its programs.
    """

    __slots__ = ("after", "env", "glued", "joined", "last_if", "names", "options", "sep", "wraps")

    def __init__(
        self,
        names: str,
        *,
        options: str = "",
        joined: str = "",
        sep: str = "",
        after: str = "",
        last_if: str = "",
        wraps: str | None = None,
        glued: bool = True,
        env: str = "",
    ) -> None:
        self.names = names.split()
        self.options = options.split()  # the secret is the next word, or glued: -pX, --pass=X
        self.joined = joined.split()  # the secret only glued (mysql -pX); alone the option asks
        self.sep = sep  # the secret is what follows this in the value (user:X); "": all of it
        self.after = after  # the options count only after this word (docker login)
        self.last_if = last_if  # a flag that makes the last operand the secret (htpasswd -b)
        # A program that runs a command (sshpass): its options end at the first
        # operand, and these other options of its own take a value.
        self.wraps = None if wraps is None else wraps.split()
        self.glued = glued  # a one-letter option takes its value glued (-pX), as with getopt
        self.env = env  # the variable the program reads its password from

    def secret_at(self, word: str) -> int | None:
        """Where the secret starts in ``word`` (past its option); -1: the next word; None: none."""
        if word in self.options:
            return -1
        for option in (*self.options, *self.joined):
            if option[:2] == "--":
                if word.startswith(option + "="):
                    return len(option) + 1
            elif len(option) == 2 and self.glued and len(word) > 2 and word.startswith(option):
                return 2
        if self.glued and _is_flag_group(word):  # one-letter flags ending with an option: -sSu X
            for option in self.options:
                if len(option) == 2 and word[-1] == option[1]:
                    return -1
        return None


# One line per program family.  Options every program shares the meaning of
# (``--password X``, ``--password=X``, ``--token``...), URLs with user:password@,
# ``Authorization:`` headers and ``*PASSWORD*=`` variables are found by the
# general rules below, for any program: they are not repeated here.
PROGRAMS: tuple[Program, ...] = (
    Program(
        "mysql mysqldump mysqladmin mysqlimport mysqlshow mysqlcheck mysqlpump mysqlslap mysqlsh"
        " mariadb mariadb-dump mariadb-admin mariadb-import mariadb-show mariadb-check",
        joined="-p",  # mysql -p db asks for the password: db is no secret
        env="MYSQL_PWD",
    ),
    Program(
        "mongo mongosh mongodump mongorestore mongoexport mongoimport mongostat mongotop"
        " mongofiles",
        options="-p",
    ),
    Program("redis-cli valkey-cli", options="-a --pass", env="REDISCLI_AUTH"),
    Program("docker podman nerdctl buildah skopeo helm oras", after="login", options="-p"),
    Program("az", after="login", options="-p"),
    Program("twine", options="-p"),
    Program("sshpass", options="-p", wraps="-f -d -P", env="SSHPASS"),
    Program("curl", options="-u --user -U --proxy-user -E --cert --proxy-cert", sep=":"),
    Program("curl", options="--oauth2-bearer --pass --proxy-pass"),
    Program("openssl", options="-passin -passout -pass", sep="pass:"),  # not env:, file:
    Program("openssl", options="-k", glued=False),  # -kfile is another option
    Program("htpasswd", last_if="b"),
    Program("smbclient rpcclient smbcacls smbget", options="-U --user", sep="%"),
    Program(
        "ldapsearch ldapadd ldapmodify ldapdelete ldapmodrdn ldapcompare ldapwhoami ldappasswd"
        " ldapexop",
        options="-w",
    ),
    Program("ldappasswd", options="-a -s"),  # the old and the new password
    Program("sqlcmd bcp", options="-P"),
    Program("zip unzip", options="-P"),
    Program("7z 7za 7zr 7zz", joined="-p"),
    Program(
        "keytool jarsigner",
        options="-storepass -keypass -srcstorepass -deststorepass -srckeypass -destkeypass -new",
    ),
)


def _by_name(programs: Iterable[Program]) -> dict[str, tuple[Program, ...]]:
    found: dict[str, tuple[Program, ...]] = {}
    for program in programs:
        for name in program.names:
            found[name] = (*found.get(name, ()), program)
    return found


_BY_NAME = _by_name(PROGRAMS)
# Shell text cut roughly into words: operators split, quotes and backslashes
# dropped.  A program that a word read by ``_shell_words`` names (quoted, or a
# path) is then named by one of these rough words too.
_ROUGH_WORDS = str.maketrans(";&|()<>`", "        ", "'\"\\")


def names_a_program(text: str) -> bool:
    """False when no word of ``text``, as a shell reads it, names a program of ``PROGRAMS``."""
    words = text.translate(_ROUGH_WORDS).split()
    return any(word.rpartition("/")[2] in _BY_NAME for word in words)


def _is_flag_group(word: str) -> bool:
    """``-sSu``: one-letter flags written together."""
    return word[:1] == "-" and word[1:2] != "-" and word[1:].isalnum()


def _masked_value(value: str, sep: str) -> str:
    """``value`` with its secret masked: all of it, or what follows ``sep`` (user:X, pass:X)."""
    if not sep:
        return MASK
    head, found, _ = value.partition(sep)
    return head + sep + MASK if found else value


class _Arguments:
    """The words after a known program's name, read one at a time; secrets masked in ``out``."""

    __slots__ = ("active", "hide_last", "last", "out", "owed", "programs", "skip")

    def __init__(self, programs: tuple[Program, ...], out: list[str]) -> None:
        self.programs = programs
        self.out = out
        self.active = [not program.after for program in programs]
        self.owed: str | None = None  # the next word is a secret: what comes before it there
        self.skip = False  # the next word is the value of a wrapper's own option
        self.last = -1  # the last operand
        self.hide_last = False

    def value(self, index: int, word: str) -> bool:
        """Take ``word`` as the value an option is owed; False if none is owed."""
        if self.owed is not None:
            self.out[index] = _masked_value(word, self.owed)
            self.owed = None
            return True
        if self.skip:
            self.skip = False
            return True
        return False

    def feed(self, index: int, word: str) -> bool:
        """Read one option or operand; False when it starts the command a wrapper runs."""
        operand = word[:1] != "-" or word == "-"
        for number, program in enumerate(self.programs):
            if not self.active[number]:
                self.active[number] = word == program.after
                continue
            at = program.secret_at(word)
            if at == -1:
                self.owed = program.sep
                return True
            if at is not None:
                self.out[index] = word[:at] + _masked_value(word[at:], program.sep)
                return True
            if program.last_if and _is_flag_group(word) and program.last_if in word:
                self.hide_last = True
            if program.wraps is not None:
                if operand:
                    return False
                self.skip = word in program.wraps
        if operand:
            self.last = index
        return True

    def close(self) -> None:
        if self.hide_last and self.last >= 0:
            self.out[self.last] = MASK


def mask_programs(words: Sequence[str]) -> list[str]:
    """``words`` with masked what the programs of ``PROGRAMS`` among them take as secrets.

    Any word can start a program's arguments (``sudo mysql``, ``env A=1
    mysql``, ``ssh host mysql``); they end at the next such word, at a shell
    operator, and for a wrapper (sshpass) at the command it runs.
    """
    out = list(words)
    arguments: _Arguments | None = None
    for index, word in enumerate(words):
        if arguments is not None and arguments.value(index, word):
            continue
        programs = _BY_NAME.get(word.rpartition("/")[2])
        if programs is not None or (word and not word.strip(";&|")):
            if arguments is not None:
                arguments.close()
            arguments = None if programs is None else _Arguments(programs, out)
        elif arguments is not None and not arguments.feed(index, word):
            arguments = None
    if arguments is not None:
        arguments.close()
    return out


_BLANKS = " \t\r\f\v"
_BREAKS = "\n;&|()<>`"  # where a shell command ends (or is redirected)
_ESCAPABLE = ('"', "\\", "$", "`")  # what a backslash escapes inside double quotes


def _shell_words(text: str) -> list[list[tuple[int, int, str]]]:
    """``text`` split as a shell splits it: commands of (start, end, unquoted value) words."""
    commands: list[list[tuple[int, int, str]]] = [[]]
    position, size = 0, len(text)
    while position < size:
        char = text[position]
        if char in _BLANKS:
            position += 1
        elif char in _BREAKS:
            words = commands[-1]
            if char in "<>" and words and words[-1][1] == position and words[-1][2].isdigit():
                words.pop()  # 2>&1: a file descriptor, not an argument
            if words:
                commands.append([])
            position += 1
        else:
            end, value = _shell_word(text, position)
            commands[-1].append((position, end, value))
            position = end
    return [words for words in commands if words]


def _shell_word(text: str, position: int) -> tuple[int, str]:
    """The end and the unquoted value of the word that starts at ``position``."""
    value: list[str] = []
    size = len(text)
    while position < size and text[position] not in _BLANKS and text[position] not in _BREAKS:
        char = text[position]
        if char == "'":
            end = text.find("'", position + 1)
            end = size if end < 0 else end
            value.append(text[position + 1 : end])
            position = end + 1
        elif char == '"':
            position += 1
            while position < size and text[position] != '"':
                if text[position] == "\\" and text[position + 1 : position + 2] in _ESCAPABLE:
                    position += 1
                value.append(text[position])
                position += 1
            position += 1
        elif char == "\\" and position + 1 < size:
            value.append(text[position + 1])
            position += 2
        else:
            value.append(char)
            position += 1
    return min(position, size), "".join(value)


def mask_programs_in_text(text: str, depth: int = 0) -> str:
    """``mask_programs`` on ``text`` read as shell words: a script, a command line from /proc.

    A quoted word that is itself a script (``sh -c 'mysql -pX'``) is read too,
    three levels deep; a word masked there is written back quoted.
    """
    pieces: list[str] = []
    done = 0
    for command in _shell_words(text):
        values = [value for _, _, value in command]
        for (start, end, value), masked in zip(command, mask_programs(values), strict=True):
            if masked == value:
                if depth >= 3 or text[start:end] == value or not names_a_program(value):
                    continue
                inner = mask_programs_in_text(value, depth + 1)
                if inner == value:
                    continue
                masked = shell_quote(inner)
            pieces += (text[done:start], masked)
            done = end
    pieces.append(text[done:])
    return "".join(pieces)


# A long or short option whose name says its value is a secret.
_SECRET_WORD = (
    r"(?:token|secret|passw(?:or)?d|passphrase|pwd|api[-_]?key|access[-_]?key"
    r"|private[-_]?key|client[-_]?secret|credentials?|auth(?:orization)?)"
)
# ``--password-stdin`` (docker login) is a flag: the word after it is no secret.
_SECRET_OPTION = rf"^--?(?!no-)(?:[a-z0-9]+[-_])*{_SECRET_WORD}(?:[-_][a-z0-9]+)*(?<!-stdin)$"

# NAME=value (also inside a shell script: ``sh -c 'API_KEY=x make'``); the value
# goes when NAME is telling.  Split in two so that long words cost linear time.
_ASSIGNMENT = r"\b[A-Za-z0-9_]+=(?:\"([^\"]*)\"|'([^']*)'|([^\s'\"&;|]+))"
_TELLING_NAME = r"(?i)TOKEN|SECRET|PASSWORD|PASSWD|KEY"

# Built-in patterns; groups mark the part that is replaced.
DEFAULT_PATTERNS: tuple[str, ...] = (
    # Options written inside one argument, such as a shell script: ``--token=x`` / ``--token x``.
    rf"(?i)(?<![\w-])--?(?:[a-z0-9]+[-_])*{_SECRET_WORD}(?:[-_][a-z0-9]+)*(?<!-stdin)[= ]"
    r"([^\s'\"-][^\s'\"]*)",
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
        envs = "".join(f"|{program.env}" for program in PROGRAMS if program.env)
        self.telling_name = re.compile(_TELLING_NAME + envs)
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
        if names_a_program(text):
            text = mask_programs_in_text(text)
        if _patterns_might_match(text):
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
        for arg in mask_programs(argv):
            if hide_next:
                out.append(MASK)
                hide_next = False
                continue
            if _patterns_might_match(arg) and (
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


def command_line(argv: list[str], redactor: Redactor | None = None) -> str:
    """The command as recorded: secrets redacted, shell-quoted, non-UTF-8 bytes as escapes."""
    if redactor is None:
        redactor = Redactor()
    shown = [os.fsencode(arg).decode("utf-8", "backslashreplace") for arg in argv]
    return " ".join(map(shell_quote, redactor.argv(shown)))


# What ``shlex.quote`` leaves bare; without ``shlex``, ``run`` need not import ``re``.
_DROP_SAFE = str.maketrans(
    "", "", "@%+=:,./-_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def shell_quote(word: str) -> str:
    """``shlex.quote``: ``word`` as one shell word."""
    if not word:
        return "''"
    if word.isascii() and not word.translate(_DROP_SAFE):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"
