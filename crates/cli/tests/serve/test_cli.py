"""The AWS CLI (`aws stepfunctions --endpoint-url ...`), as the README shows it."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from conftest import EXAMPLES, machine_arn

AWS = str(Path(sys.executable).parent / "aws")


def aws(server, *args):
    out = subprocess.run([AWS, "stepfunctions", "--endpoint-url", server.endpoint, "--output", "json", *args],
                         capture_output=True, text=True, timeout=120, env=os.environ)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def test_cli_runs_finra(server):
    started = aws(server, "start-execution", "--state-machine-arn", machine_arn("finra"),
                  "--name", "cli-finra", "--input", f"file://{EXAMPLES / 'finra' / 'input.json'}")
    arn = started["executionArn"]
    deadline = time.monotonic() + 120
    while (d := aws(server, "describe-execution", "--execution-arn", arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert d["status"] == "SUCCEEDED"
    want = json.loads((EXAMPLES / "finra" / "expected.json").read_text())
    assert json.loads(d["output"]) == want
    listed = aws(server, "list-executions", "--state-machine-arn", machine_arn("finra"))
    assert arn in [e["executionArn"] for e in listed["executions"]]


def test_cli_error_exit(server):
    out = subprocess.run([AWS, "stepfunctions", "--endpoint-url", server.endpoint, "describe-state-machine",
                          "--state-machine-arn", machine_arn("nope")], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "StateMachineDoesNotExist" in out.stderr
