"""The README's reference parts against the tool itself: commands, options, modules, errors."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from helpers import clean_env, run_traced, tracer

import autoskillit_trace
from autoskillit_trace.runopts import RUN_OPTIONS

README = Path(__file__).resolve().parent.parent / "README.md"
PACKAGE = Path(autoskillit_trace.__file__).parent


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n{heading}\n")
    level = len(heading.split(" ")[0])
    ends = [m.start() for m in re.finditer(rf"\n#{{1,{level}}} ", text[start + 1 :])]
    return text[start : start + 1 + ends[0]] if ends else text[start:]


def test_every_command_has_its_row_in_the_commands_table() -> None:
    """``run`` has "Using it" to itself."""
    from autoskillit_trace.cli import cli

    text = README.read_text()
    missing = [n for n in cli.commands if n != "run" and f"| `autoskillit-trace {n}" not in text]
    assert missing == []


def test_every_run_option_is_in_the_options_table() -> None:
    table = _section(README.read_text(), "## Using it")
    missing = [f for o in RUN_OPTIONS for f in o.flags if f"`{f}" not in table]
    assert missing == []


def test_every_module_is_named_in_the_design() -> None:
    design = _section(README.read_text(), "## Design")
    names = {p.stem for p in PACKAGE.rglob("*.py") if p.stem not in ("__init__", "__main__")}
    assert sorted(n for n in names if not re.search(rf"\b{n}\b", design)) == []


def test_the_unknown_key_example_is_what_run_prints(tmp_path: Path) -> None:
    (tmp_path / ".autoskillit").mkdir()
    (tmp_path / ".autoskillit" / "config.yaml").write_text("linux_tracing:\n  proc_intervl: 1\n")
    proc = subprocess.run(
        tracer("run", "--", "true"),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=clean_env(tmp_path),
        timeout=60,
    )
    assert proc.returncode == 2
    printed = proc.stderr.strip().replace(str(tmp_path), "/repo")
    example = next(
        line for line in README.read_text().splitlines() if "'linux_tracing.proc_intervl'" in line
    )
    assert printed == example


def test_the_last_log_line_example_has_the_fields_run_prints(tmp_path: Path) -> None:
    traced = run_traced(tmp_path / "logs", ["sleep", "0.3"], interval=0.05)
    assert traced.proc.returncode == 0, traced.stderr
    printed = [json.loads(x) for x in traced.stderr.splitlines() if '"session finished"' in x]
    example = next(
        json.loads(line)
        for line in README.read_text().splitlines()
        if line.startswith('{"event": "session finished"')
    )
    assert list(example) == list(printed[-1])
