"""The step-summary target: the Markdown report appended to $GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from helpers import FIXTURES, clean_env, run_traced, tracer, workload


def test_step_summary_and_show_markdown_agree(tmp_path: Path, log_root: Path) -> None:
    step = tmp_path / "step_summary.md"
    step.write_text("# earlier step\n")
    env = clean_env(tmp_path, GITHUB_STEP_SUMMARY=str(step))
    traced = run_traced(log_root, workload("oom", 0.2, 0.6, 1), env=env)
    assert traced.proc.returncode == 1
    written = step.read_text()
    assert written.startswith("# earlier step\n### ❌ `")
    assert "| Outcome | failed (exit 1): exited: code 1 |" in written
    assert re.search(r"\| \+[0-9.]+s \| critical \| oom_critical \| \d+ \|", written)
    shown = subprocess.run(
        tracer("show", traced.session.folder.name, "--markdown", "--log-dir", log_root),
        capture_output=True,
        text=True,
        env=env,
    )
    assert shown.returncode == 0, shown.stderr
    assert written == "# earlier step\n" + shown.stdout + "\n"


def test_step_summary_of_an_agent_session(tmp_path: Path, log_root: Path) -> None:
    step = tmp_path / "step_summary.md"
    env = clean_env(tmp_path, GITHUB_STEP_SUMMARY=str(step))
    traced = run_traced(
        log_root,
        workload("replay", FIXTURES / "claude_tool_error.jsonl", "0.01"),
        extra=("--agent-events",),
        env=env,
    )
    assert traced.proc.returncode == 0, traced.stderr
    text = step.read_text()
    assert "| Agent turns |" in text and "| Tool calls |" in text and "Tools: " in text
    assert "| Agent | claude 2.1.197 |" in text  # the CLI and the version its stream named
