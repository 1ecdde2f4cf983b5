"""The README's "Finding problematic sessions" recipes, run on files the tool wrote."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import index_records, tracer

README = Path(__file__).resolve().parents[1] / "README.md"
DEFAULT_ROOT = "~/.local/share/autoskillit/logs"
JQ = shutil.which("jq")
needs_jq = pytest.mark.skipif(JQ is None, reason="jq is not installed (apt-get install jq)")


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def _blocks(section: str) -> list[list[str]]:
    """The commands of each fenced code block (comments dropped)."""
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    return [
        [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
        for block in blocks
    ]


def _sh(command: str, env: dict[str, str]) -> list[dict[str, object]]:
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, f"{command}: {proc.stderr}"
    return [json.loads(x) for x in _json_values(proc.stdout)]


def _json_values(text: str) -> list[str]:
    """Split jq's pretty output (or JSON lines) into one text per value."""
    decoder = json.JSONDecoder()
    values, position = [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        _, end = decoder.raw_decode(text, position)
        values.append(text[position:end])
        position = end
    return values


def _ls(root: Path, env: dict[str, str], *args: str) -> list[str]:
    proc = subprocess.run(
        tracer("ls", "--log-dir", root, "--json", *args), capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return sorted(json.loads(x)["dir_name"] for x in proc.stdout.splitlines())


def _names(records: list[dict[str, object]]) -> list[str]:
    return sorted(str(r["dir_name"]) for r in records)


@needs_jq
def test_jq_recipes_and_their_ls_equivalents(recorded: Path, env: dict[str, str]) -> None:
    jq_block, tool_block = _blocks(_section("Finding problematic sessions"))
    assert len(jq_block) == 5 and len(tool_block) == 5
    records = index_records(recorded)
    anomalous = next(r for r in records if r["anomaly_count"])
    # A threshold some, not all, of these small sessions exceed.
    threshold = sorted(int(r["peak_rss_kb"]) for r in records)[1]
    least_cpu = min(r["cpu_user_seconds"] for r in records)

    def real(command: str) -> str:
        command = command.replace(DEFAULT_ROOT, str(recorded))
        command = command.replace("{session_id}", str(anomalous["dir_name"]))
        command = command.replace("pid-4242", str(anomalous["dir_name"]))
        command = command.replace("1000000", str(threshold))
        return command.replace("autoskillit-trace ", " ".join(tracer()) + f" --log-dir {recorded} ")

    commands = [real(c) for c in jq_block]
    commands[4] = commands[4].replace("600", str(least_cpu))
    with_anomalies, failed, one_session, high_memory, cpu_hungry = (_sh(c, env) for c in commands)
    assert _names(with_anomalies) == _ls(recorded, env, "--anomalies") == [anomalous["dir_name"]]
    assert _names(failed) == _ls(recorded, env, "--failed")
    assert [r["exit_code"] for r in failed] == [3]
    folder = recorded / "sessions" / str(anomalous["dir_name"])
    expected = [json.loads(x) for x in (folder / "anomalies.jsonl").read_text().splitlines()]
    assert one_session == expected and any(a["kind"] == "oom_critical" for a in one_session)
    assert 0 < len(high_memory) < len(records)
    assert set(_names(high_memory)) <= set(_ls(recorded, env, "--min-rss", str(threshold)))
    # The kernel's CPU totals of the tree are in every index line, as numbers jq compares.
    assert _names(cpu_hungry) == _names([r for r in records if r["cpu_user_seconds"] > least_cpu])
    assert 0 < len(cpu_hungry) < len(records)


def test_tool_equivalents_run(recorded: Path, env: dict[str, str]) -> None:
    _, tool_block = _blocks(_section("Finding problematic sessions"))
    records = index_records(recorded)
    anomalous = next(r for r in records if r["anomaly_count"])
    threshold = str(min(int(r["peak_rss_kb"]) for r in records))
    for command in tool_block:
        if "| jq" in command and JQ is None:
            continue
        words = command.split("#")[0].strip().replace("pid-4242", str(anomalous["dir_name"]))
        words = words.replace("1000000", threshold)
        argv = " ".join(tracer()) + f" {words.split(' ', 1)[1]}"
        # --log-dir goes after the subcommand and its argument.
        argv = argv.replace(" ls ", f" ls --log-dir {recorded} ")
        argv = argv.replace(" show ", f" show --log-dir {recorded} ")
        proc = subprocess.run(["bash", "-c", argv], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, f"{argv}: {proc.stderr}"
        assert proc.stdout.strip(), argv


def test_every_subtype_a_session_ends_with_is_explained(tmp_path: Path) -> None:
    """Real sessions end with each subtype the wrapper gives; the README says what each means."""
    from helpers import run_traced, workload

    root = tmp_path / "logs"
    runs: list[tuple[list[str], tuple[str, ...]]] = [
        (["true"], ()),
        (workload("exit", 3), ()),
        (workload("die-by", 15), ()),
        (["sleep", "30"], ("--timeout", "0.05")),
        (["sleep", "30"], ("--idle-timeout", "0.05")),
        (["no-such-cmd-zz"], ()),
    ]
    for command, extra in runs:
        run_traced(root, command, interval=0.05, extra=("-q", *extra))
    produced = {r["subtype"] for r in index_records(root)}
    assert len(produced) == len(runs)
    text = README.read_text()
    start = text.index("### summary.json\n")
    paragraph = text[start : text.index("\n\n", text.index("`subtype`", start))]
    explained = set(re.findall(r"`(\w+)`: ", paragraph))
    assert produced | {"crashed"} <= explained, produced - explained
