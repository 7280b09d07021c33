"""A function that kills its process fails its execution, never the server."""

import json

import pytest

import os
import signal

from conftest import ROLE, definition, wait_done, wait_gone


@pytest.mark.parametrize("function,how", [("crash", "exit status 3"), ("segfault", "signal: segmentation fault")])
def test_crash_fails_one_execution(sfn, function, how):
    d = definition({"Crash": {"Type": "Task", "Resource": function, "End": True}})
    arn = sfn.create_state_machine(name=f"dies-{function}", definition=d, roleArn=ROLE)["stateMachineArn"]
    e = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert (e["status"], e["error"]) == ("FAILED", "Runtime.ExitError")
    cause = json.loads(e["cause"])
    assert cause["errorType"] == "Runtime.ExitError"
    assert f"Runtime exited with error: {how}" in cause["errorMessage"]
    # The server still serves, and executions after it run on a new executor.
    ok = definition({"Double": {"Type": "Task", "Resource": "double", "End": True}})
    ok_arn = sfn.create_state_machine(name=f"after-{function}", definition=ok, roleArn=ROLE)["stateMachineArn"]
    after = wait_done(sfn, sfn.start_execution(stateMachineArn=ok_arn, input='{"n": 4}')["executionArn"])
    assert json.loads(after["output"]) == {"n": 8}


def test_a_hung_execution_does_not_block_the_api(sfn):
    d = definition({"Sleep": {"Type": "Task", "Resource": "slow", "End": True}})
    arn = sfn.create_state_machine(name="hangs", definition=d, roleArn=ROLE)["stateMachineArn"]
    hung = [sfn.start_execution(stateMachineArn=arn, input='{"seconds": 600}')["executionArn"] for _ in range(3)]
    # More hung executions than executors: the API still answers everything.
    for h in hung:
        assert sfn.describe_execution(executionArn=h)["status"] == "RUNNING"
    assert sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
    for h in hung:
        sfn.stop_execution(executionArn=h)
        assert sfn.describe_execution(executionArn=h)["status"] == "ABORTED"


def test_an_executor_killed_while_idle_is_replaced(server, sfn):
    d = definition({"Double": {"Type": "Task", "Resource": "double", "End": True}})
    arn = sfn.create_state_machine(name="idle-killed", definition=d, roleArn=ROLE)["stateMachineArn"]
    assert wait_done(sfn, sfn.start_execution(stateMachineArn=arn, input='{"n": 1}')["executionArn"])["status"] == "SUCCEEDED"
    idle = server.executors()
    assert idle
    for pid in idle:
        os.kill(pid, signal.SIGKILL)
    assert wait_gone(idle) == set()
    # The job goes to a fresh executor instead of failing.
    e = wait_done(sfn, sfn.start_execution(stateMachineArn=arn, input='{"n": 5}')["executionArn"])
    assert (e["status"], e.get("output")) == ("SUCCEEDED", '{"n":10}')


def test_a_client_hanging_up_does_not_kill_its_executor(server, sfn):
    import http.client
    import json as _json
    import time

    d = definition({"Sleep": {"Type": "Task", "Resource": "slow", "End": True}})
    arn = sfn.create_state_machine(name="hangup", definition=d, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    sfn.start_sync_execution(stateMachineArn=arn, input='{"seconds": 0}')
    before = server.executors()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.3)
    body = _json.dumps({"stateMachineArn": arn, "input": '{"seconds": 1}'})
    conn.request("POST", "/", body=body, headers={
        "X-Amz-Target": "AWSStepFunctions.StartSyncExecution",
        "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(OSError):
        conn.getresponse()
    conn.close()
    # The execution finishes on its executor, which stays for the next one.
    time.sleep(1.5)
    r = sfn.start_sync_execution(stateMachineArn=arn, input='{"seconds": 0}')
    assert r["status"] == "SUCCEEDED"
    assert before <= server.executors()
