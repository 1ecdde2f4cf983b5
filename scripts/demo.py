"""``make demo``: trace the demo workload into ./demo-logs and show what was recorded."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "demo-logs"


def main() -> int:
    cmd = [
        sys.executable,
        "-m",
        "autoskillit_trace",
        "run",
        "--interval",
        "0.25",
        "--log-dir",
        str(LOGS),
        "--log-format",
        "console",
        "--",
        sys.executable,
        str(ROOT / "scripts" / "demo_workload.py"),
    ]
    print("$ autoskillit-trace run --interval 0.25 --log-dir demo-logs -- \\")
    print("      python scripts/demo_workload.py")
    status = subprocess.call(cmd)
    print(f"(exit status {status})\n")
    index = (LOGS / "sessions.jsonl").read_text().splitlines()
    newest = json.loads(index[-1])
    folder = LOGS / "sessions" / newest["dir_name"]
    print(f"Recorded in {folder}:")
    for path in sorted(folder.iterdir()):
        print(f"  {path.name:<18} {path.stat().st_size:>8} bytes")
    print("\nsummary.json:")
    print((folder / "summary.json").read_text())
    anomalies = folder / "anomalies.jsonl"
    if anomalies.exists():
        print("anomalies.jsonl (kind, severity, seq, detail):")
        for line in anomalies.read_text().splitlines():
            record = json.loads(line)
            print(
                f"  {record['kind']:<20} {record['severity']:<9} seq={record['seq']:<4} "
                f"{json.dumps(record['detail'])}"
            )
    print(f"\nIndex: {LOGS / 'sessions.jsonl'} ({len(index)} sessions)")
    return status


if __name__ == "__main__":
    sys.exit(main())
