"""Where a finished session can be sent: one row per export target.

``run`` reads this table at every start to learn whether anything is to be
sent, so it imports nothing; the code that sends is the target's module,
``autoskillit_trace/export/<module>.py``, imported only when the target is
wanted.  A new target is that module (``where`` and ``send``), a row here,
and the option or setting that asks for it.
"""

from __future__ import annotations

from autoskillit_trace.records import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from autoskillit_trace.config import Settings
    from autoskillit_trace.runopts import RunArgs

    Wanted = Callable[[Settings, RunArgs, Mapping[str, str]], bool]


class Target(Record):
    """One export target: its module, when it is wanted, whether it labels by session slot."""

    __slots__ = ("module", "slotted", "wanted")

    def __init__(self, module: str, wanted: Wanted, slotted: bool = False) -> None:
        self.module = module  # autoskillit_trace.export.<module>; also its name in messages
        self.wanted = wanted  # (settings, run's options, the environment) -> bool
        self.slotted = slotted  # a slot is taken when the session opens, held until sent


# In the order they are sent: the metrics first, then the reports.
TARGETS: tuple[Target, ...] = (
    Target("pushgateway", lambda settings, args, env: bool(settings.pushgateway_url), True),
    Target("textfile", lambda settings, args, env: bool(settings.textfile_dir), True),
    Target("step_summary", lambda settings, args, env: bool(env.get("GITHUB_STEP_SUMMARY"))),
    Target("junit", lambda settings, args, env: bool(args.junit)),
    Target("html_report", lambda settings, args, env: settings.html_report),
)


def wanted_targets(settings: Settings, args: RunArgs, env: Mapping[str, str]) -> tuple[Target, ...]:
    """The targets this run sends to, in order; empty for most runs."""
    return tuple(target for target in TARGETS if target.wanted(settings, args, env))
