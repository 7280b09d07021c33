"""The bundled examples, registered by `faastlane serve DIR`, give what `faastlane run` gives."""

import json
import os
import subprocess

import pytest

from conftest import EXAMPLES, machine_arn, wait_done


@pytest.mark.parametrize("example", ["finra", "healthcare"])
def test_example_matches_expected(sfn, example):
    payload = (EXAMPLES / example / "input.json").read_text()
    arn = sfn.start_execution(stateMachineArn=machine_arn(example), input=payload)["executionArn"]
    d = wait_done(sfn, arn, timeout=120)
    assert d["status"] == "SUCCEEDED", d.get("cause")
    assert json.loads(d["output"]) == json.loads((EXAMPLES / example / "expected.json").read_text())


def test_hello_matches_run(sfn):
    payload = (EXAMPLES / "hello" / "input.json").read_text()
    arn = sfn.start_execution(stateMachineArn=machine_arn("hello"), name="greeting", input=payload)["executionArn"]
    d = wait_done(sfn, arn)
    assert d["status"] == "SUCCEEDED"
    ran = subprocess.run([os.environ["FAASTLANE_BIN"], "run", str(EXAMPLES / "hello"), "--name", "greeting",
                          "--input", str(EXAMPLES / "hello" / "input.json")], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(d["output"]) == json.loads(ran.stdout)
