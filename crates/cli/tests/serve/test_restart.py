"""Durability: kill -9 the server during executions, start it again on the same database."""

import json
import signal

from conftest import ROLE, Server, definition, wait_done, wait_gone

SLOW = definition({"Sleep": {"Type": "Task", "Resource": "slow", "End": True}})
QUICK = definition({"Double": {"Type": "Task", "Resource": "double", "End": True}})


def test_kill_9_loses_nothing_acknowledged(tmp_path):
    db = tmp_path / "serve.db"
    first = Server(db)
    try:
        sfn = first.client()
        quick = sfn.create_state_machine(name="quick", definition=QUICK, roleArn=ROLE)["stateMachineArn"]
        slow = sfn.create_state_machine(name="slow", definition=SLOW, roleArn=ROLE)["stateMachineArn"]
        big = json.dumps({"n": 1, "blob": "x" * 200_000})
        done = [sfn.start_execution(stateMachineArn=quick, input=big if i == 0 else '{"n": %d}' % i)["executionArn"] for i in range(4)]
        for arn in done:
            assert wait_done(sfn, arn)["status"] == "SUCCEEDED"
        running = [sfn.start_execution(stateMachineArn=slow, input='{"seconds": 600}')["executionArn"] for _ in range(3)]
        for arn in running:
            assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
        executors = first.executors()
        assert executors
    finally:
        first.kill(signal.SIGKILL)
    # Executors die with their server: no orphan keeps running user code.
    assert wait_gone(executors) == set()
    second = Server(db)
    try:
        sfn = second.client()
        for i, arn in enumerate(done):
            d = sfn.describe_execution(executionArn=arn)
            assert d["status"] == "SUCCEEDED"
            assert json.loads(d["output"]) == {"n": 2 if i == 0 else 2 * i}
        assert json.loads(sfn.describe_execution(executionArn=done[0])["input"])["blob"] == "x" * 200_000
        for arn in running:
            d = sfn.describe_execution(executionArn=arn)
            assert (d["status"], d["error"], d["cause"]) == (
                "FAILED", "States.Runtime", "the faastlane server stopped during the execution")
        names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
        assert names == ["quick", "slow"]
    finally:
        second.stop()


def test_sigterm_waits_for_running_executions(tmp_path):
    db = tmp_path / "serve.db"
    first = Server(db)
    try:
        sfn = first.client()
        slow = sfn.create_state_machine(name="slow", definition=SLOW, roleArn=ROLE)["stateMachineArn"]
        short = sfn.start_execution(stateMachineArn=slow, input='{"seconds": 0.5}')["executionArn"]
        long = sfn.start_execution(stateMachineArn=slow, input='{"seconds": 600}')["executionArn"]
        first.proc.send_signal(signal.SIGTERM)
        assert first.proc.wait(timeout=60) == 0
    finally:
        first.stop()
    second = Server(db)
    try:
        sfn = second.client()
        # Finished within the grace period: recorded; past it: failed, never left RUNNING.
        assert sfn.describe_execution(executionArn=short)["status"] == "SUCCEEDED"
        d = sfn.describe_execution(executionArn=long)
        assert (d["status"], d["cause"]) == ("FAILED", "the faastlane server stopped during the execution")
    finally:
        second.stop()
