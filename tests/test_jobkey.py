"""The job key: what changes from run to run is taken out of the command line, nothing else."""

from __future__ import annotations

import tempfile
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autoskillit_trace.jobkey import MAX_KEY, SCANNED, job_key, normalise, valid_job_name

CASES = [
    ("make -j8 test", "make -j8 test"),
    ("python3.11 -m pytest -x tests/test_a.py", "python3.11 -m pytest -x tests/test_a.py"),
    ("python3 /tmp/pytest-of-me/pytest-12/test_x0/job.py --mb 40", "python3 <tmp>/job.py --mb 40"),
    ("cat /var/tmp/cache/", "cat <tmp>/cache"),
    ("cp a /dev/shm/x.bin", "cp a <tmp>/x.bin"),
    ("cp ./tmp/a.txt ~/tmp/b.txt /src/tmp/c", "cp ./tmp/a.txt ~/tmp/b.txt /src/tmp/c"),
    ("cp file:///tmp/x/a.txt", "cp file://<tmp>/a.txt"),
    ("sh --out=/tmp/tmp.Ab3dE5fG7h", "sh --out=<tmp>"),
    ("sh '/tmp/tmpab_cd123'", "sh '<tmp>'"),
    ("ls tmp.Xy12Zw9Q/out", "ls <tmp>/out"),
    ("ls tmpbuilder tmp.ab", "ls tmpbuilder tmp.ab"),
    ("./deploy.sh --build 123456 --sha 3f2a9c1e", "./deploy.sh --build <n> --sha <hex>"),
    ("git show 3f2a9c1", "git show <hex>"),
    ("echo deadbeef cafe123 abc 12 123", "echo deadbeef <hex> abc 12 123"),
    ("x --id 0b1c2d3e-aaaa-bbbb-cccc-0123456789ab", "x --id <uuid>"),
    ("x --since 2026-11-30T01:04:00.123456+00:00 --on 2026-11-30", "x --since <time> --on <time>"),
    ("run pid-4242-20261130T010400Z", "run pid-<n>-<time>"),
    ("log_2026-11-30.txt at 01:04:05", "log_<time>.txt at <time>"),
    ("serve --port 8080 -n 3", "serve --port <n> -n 3"),
    ("curl --token [REDACTED] https://h/x", "curl --token [REDACTED] https://h/x"),
    ("", ""),
]


@pytest.mark.parametrize(("line", "key"), CASES)
def test_what_changes_from_run_to_run_is_taken_out(line: str, key: str) -> None:
    assert job_key(line) == key


def test_real_temporary_names_are_taken_out() -> None:
    for _ in range(20):
        name = tempfile.mktemp(dir="/tmp")  # only the name is used
        assert job_key(f"python {name}") == "python <tmp>"
        assert (
            job_key(f"python {name}/run.py --id {uuid.uuid4()}")
            == "python <tmp>/run.py --id <uuid>"
        )


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=1000, max_value=10**12), st.uuids(), st.datetimes())
def test_ids_and_times_never_split_a_job(number: int, an_id: uuid.UUID, when: object) -> None:
    line = f"job --run {number} --id {an_id} --at {when.isoformat()} --sha {an_id.hex[:8]}1a"  # type: ignore[attr-defined]
    assert job_key(line) == "job --run <n> --id <uuid> --at <time> --sha <hex>"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_key_no_longer_than_the_limit(text: str) -> None:
    key = job_key(text)
    assert len(key) <= MAX_KEY
    assert job_key(text) == key


def test_long_command_lines_are_cut_with_a_checksum() -> None:
    long = "x " * 300
    key = job_key(long)
    assert len(key) == MAX_KEY and key.startswith("x x ") and "…" in key
    assert job_key("y " * 300) != key
    huge = "a" * (SCANNED + 10)
    assert job_key(huge) == job_key(huge + "b")  # only the first SCANNED characters count


def test_normalise_leaves_text_without_ids_alone() -> None:
    assert normalise("npm run build -- --prod") == "npm run build -- --prod"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("nightly", None),
        ("build linux/amd64 #3", None),
        ("", "blank"),
        ("   ", "blank"),
        ("a\nb", "control character"),
        ("a\tb", "control character"),
        ("x" * (MAX_KEY + 1), "longer than"),
    ],
)
def test_job_names_given_by_hand(name: str, problem: str | None) -> None:
    found = valid_job_name(name)
    assert (found is None) if problem is None else (found is not None and problem in found)
