"""`faastlane serve --isolation`: sensitive functions isolated in the server's executors, the
choice made (and refused, or its notice printed) when the server starts."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import Server, machine_arn, wait_done

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def pku():
    flags = Path("/proc/cpuinfo").read_text()
    return " pku " in flags and " ospke " in flags


def run_isolation_fixture(tmp_path, mode):
    # Only the fixture's directory: process isolation needs each directory's marking.
    s = Server(
        tmp_path / f"{mode}.db",
        extra=["--isolation", mode, str(FIXTURES / "isolation")],
        functions=False,
    )
    try:
        sfn = s.client()
        arn = sfn.start_execution(stateMachineArn=machine_arn("isolation"), input="{}")["executionArn"]
        e = wait_done(sfn, arn)
        assert e["status"] == "SUCCEEDED", e
        return json.loads(e["output"]), s.log_path.read_text()
    finally:
        s.stop()


def test_process_isolation_runs_each_sensitive_call_in_a_fresh_process(tmp_path):
    got, _ = run_isolation_fixture(tmp_path, "process")
    public = got["public"]["pid"]
    assert got["first"]["pid"] != public and got["second"]["pid"] != public, got
    assert got["first"]["pid"] != got["second"]["pid"], f"a fresh worker per call: {got}"
    # The module global does not survive from one call to the next, and what the sensitive
    # function kept is nowhere the other functions run.
    assert (got["first"]["calls"], got["second"]["calls"]) == (1, 1), got
    assert got["snooped"]["found"] is None, got

    shared, _ = run_isolation_fixture(tmp_path, "none")
    assert shared["first"]["pid"] == shared["public"]["pid"], shared
    assert shared["second"]["calls"] == 2, shared
    assert shared["snooped"]["found"] == "123-45-6789", "without isolation it leaks"


@pytest.mark.skipif(pku(), reason="this CPU has protection keys: auto chooses mpk")
def test_auto_says_what_it_chose_and_isolates(tmp_path):
    got, log = run_isolation_fixture(tmp_path, "auto")
    assert log.splitlines()[0].startswith("isolation: process (this CPU has no protection keys"), log
    assert got["snooped"]["found"] is None, got


def refused(*args):
    out = subprocess.run(
        [os.environ["FAASTLANE_BIN"], "serve", "--db", ":memory:", "--port", "1", *args],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 2, (out.returncode, out.stderr)
    return out.stderr


@pytest.mark.skipif(pku(), reason="this CPU has protection keys")
def test_mpk_without_protection_keys_is_refused_at_start():
    err = refused("--isolation", "mpk", str(FIXTURES / "isolation"))
    assert "--isolation mpk needs Intel memory protection keys" in err, err


def test_a_marking_naming_no_function_is_refused_with_its_place(tmp_path):
    (tmp_path / "secret.py").write_text("def handler(event, context):\n    return event\n")
    (tmp_path / "faastlane.json").write_text('{"isolation": {"sensitive": ["secret", "nope"]}}')
    err = refused("--isolation", "process", "--functions", str(tmp_path))
    assert f"{tmp_path}/faastlane.json: /isolation/sensitive/1: " in err, err
    assert "has no function named 'nope' (it has: secret)" in err, err


def test_process_isolation_needs_a_marking(tmp_path):
    (tmp_path / "double.py").write_text("def handler(event, context):\n    return event\n")
    err = refused("--isolation", "process", "--functions", str(tmp_path))
    assert "needs the sensitive functions of" in err and "faastlane.json" in err, err
