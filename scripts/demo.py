"""``make demo``: trace the demo workload into ./demo-logs and show what was recorded."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "demo-logs"
TOOL = [sys.executable, "-m", "autoskillit_trace"]


def step(title: str, args: list[str]) -> int:
    print(f"\n$ autoskillit-trace {title}", flush=True)
    return subprocess.call([*TOOL, *args])


def main() -> int:
    workload = [sys.executable, str(ROOT / "scripts" / "demo_workload.py")]
    status = step(
        "run --interval 0.25 --log-dir demo-logs -- python scripts/demo_workload.py",
        [
            "run",
            "--interval",
            "0.25",
            "--log-dir",
            str(LOGS),
            "--log-format",
            "console",
            "--",
            *workload,
        ],
    )
    print(f"(exit status {status}, as the workload's own)")
    newest = json.loads((LOGS / "sessions.jsonl").read_text().splitlines()[-1])["dir_name"]
    folder = LOGS / "sessions" / newest
    print(f"\nRecorded in {folder.relative_to(ROOT)}/:")
    for path in sorted(folder.iterdir()):
        print(f"  {path.name:<18} {path.stat().st_size:>8} bytes")
    step("ls --log-dir demo-logs", ["ls", "--log-dir", str(LOGS)])
    step(f"show {newest} --log-dir demo-logs", ["show", newest, "--log-dir", str(LOGS)])
    index = (LOGS / "sessions.jsonl").relative_to(ROOT)
    print(f"\nFiles to read with jq: {index} and the folder above.")
    return status


if __name__ == "__main__":
    sys.exit(main())
