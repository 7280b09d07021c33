"""Executions: start, poll, describe, list with filters and pages, stop, sync, errors."""

import json

import pytest

from conftest import ROLE, definition, machine_arn, wait_done

CHAIN = definition({
    "Double": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:double", "Next": "Increment"},
    "Increment": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": "increment", "Payload.$": "$"},
                  "OutputPath": "$.Payload", "End": True},
})


@pytest.fixture(scope="module")
def chain(sfn):
    return sfn.create_state_machine(name="chain", definition=CHAIN, roleArn=ROLE)["stateMachineArn"]


def test_start_poll_describe(sfn, chain):
    started = sfn.start_execution(stateMachineArn=chain, name="first", input=json.dumps({"n": 20}))
    assert started["executionArn"] == "arn:aws:states:us-east-1:111111111111:execution:chain:first"
    d = wait_done(sfn, started["executionArn"])
    assert d["status"] == "SUCCEEDED"
    assert json.loads(d["output"]) == {"n": 41}
    assert json.loads(d["input"]) == {"n": 20}
    assert d["stopDate"] >= d["startDate"]
    sm = sfn.describe_state_machine_for_execution(executionArn=started["executionArn"])
    assert json.loads(sm["definition"]) == json.loads(CHAIN)


def test_same_name_same_input_is_idempotent_else_conflict(sfn, chain):
    a = sfn.start_execution(stateMachineArn=chain, name="twice", input='{"n": 1}')
    wait_done(sfn, a["executionArn"])
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=chain, name="twice", input='{"n": 2}')


def test_function_error_fails_the_execution(sfn):
    d = definition({"Boom": {"Type": "Task", "Resource": "boom", "End": True}})
    arn = sfn.create_state_machine(name="boom", definition=d, roleArn=ROLE)["stateMachineArn"]
    e = wait_done(sfn, sfn.start_execution(stateMachineArn=arn)["executionArn"])
    assert (e["status"], e["error"]) == ("FAILED", "PaymentDeclined")
    assert json.loads(e["cause"])["errorMessage"] == "card expired"


def test_list_executions_filter_and_pages(sfn, chain):
    arns = [sfn.start_execution(stateMachineArn=chain, input='{"n": %d}' % i)["executionArn"] for i in range(5)]
    for a in arns:
        wait_done(sfn, a)
    pages = list(sfn.get_paginator("list_executions").paginate(stateMachineArn=chain, statusFilter="SUCCEEDED", PaginationConfig={"PageSize": 2}))
    listed = [e["executionArn"] for p in pages for e in p["executions"]]
    assert len(pages) >= 3
    # Newest first, each once.
    assert listed[:5] == list(reversed(arns))
    assert len(set(listed)) == len(listed)
    assert sfn.list_executions(stateMachineArn=chain, statusFilter="ABORTED")["executions"] == []
    with pytest.raises(sfn.exceptions.ClientError) as e:
        sfn.list_executions(stateMachineArn=chain, statusFilter="BOGUS")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_stop_execution(sfn):
    d = definition({"Sleep": {"Type": "Task", "Resource": "slow", "End": True}})
    arn = sfn.create_state_machine(name="sleepy", definition=d, roleArn=ROLE)["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=arn, input='{"seconds": 600}')["executionArn"]
    assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
    sfn.stop_execution(executionArn=ex, error="Operator", cause="not needed")
    d = sfn.describe_execution(executionArn=ex)
    assert (d["status"], d["error"], d["cause"]) == ("ABORTED", "Operator", "not needed")
    # The executor it ran on was killed; the next execution gets a fresh one.
    quick = sfn.start_execution(stateMachineArn=arn, input='{"seconds": 0}')["executionArn"]
    assert wait_done(sfn, quick)["status"] == "SUCCEEDED"


def test_sync_execution(sfn):
    d = definition({
        "A": {"Type": "Pass", "Result": {"x": 1}, "Next": "B"},
        "B": {"Type": "Pass", "Parameters": {"y.$": "$.x"}, "Next": "C"},
        "C": {"Type": "Pass", "End": True},
    })
    arn = sfn.create_state_machine(name="express", definition=d, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    r = sfn.start_sync_execution(stateMachineArn=arn, input="{}", name="now")
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", {"y": 1})
    assert r["executionArn"].startswith("arn:aws:states:us-east-1:111111111111:express:express:now:")
    with pytest.raises(sfn.exceptions.StateMachineTypeNotSupported):
        sfn.start_sync_execution(stateMachineArn=machine_arn("finra"))


def test_sync_execution_with_functions(sfn):
    arn = sfn.create_state_machine(name="chain-express", definition=CHAIN, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    r = sfn.start_sync_execution(stateMachineArn=arn, input='{"n": 1}')
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", {"n": 3})


def test_execution_errors(sfn, chain):
    with pytest.raises(sfn.exceptions.InvalidExecutionInput):
        sfn.start_execution(stateMachineArn=chain, input="{not json")
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.start_execution(stateMachineArn=machine_arn("missing"))
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.describe_execution(executionArn="arn:aws:states:us-east-1:111111111111:execution:chain:nope")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn=chain)
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.start_execution(stateMachineArn=chain, name="a/b")


def test_what_functions_print_reaches_the_server_log(server, sfn):
    d = definition({"Shout": {"Type": "Task", "Resource": "shout", "End": True}})
    arn = sfn.create_state_machine(name="shouts", definition=d, roleArn=ROLE)["stateMachineArn"]
    wait_done(sfn, sfn.start_execution(stateMachineArn=arn, input='{"word": "marmalade"}')["executionArn"])
    assert "[Shout] shouting marmalade" in server.log_path.read_text()


def test_state_machine_timeout_is_timed_out(sfn):
    d = json.dumps({"StartAt": "Sleep", "TimeoutSeconds": 1,
                    "States": {"Sleep": {"Type": "Task", "Resource": "slow", "End": True}}})
    arn = sfn.create_state_machine(name="too-slow", definition=d, roleArn=ROLE)["stateMachineArn"]
    e = wait_done(sfn, sfn.start_execution(stateMachineArn=arn, input='{"seconds": 2}')["executionArn"])
    assert (e["status"], e["error"]) == ("TIMED_OUT", "States.Timeout")
    listed = sfn.list_executions(stateMachineArn=arn, statusFilter="TIMED_OUT")["executions"]
    assert [x["executionArn"] for x in listed] == [e["executionArn"]]
