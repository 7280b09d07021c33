"""Step Functions Local's MockConfigFile: `<stateMachineArn>#<TestCase>`."""

import json

import pytest

from conftest import ROLE, definition, wait_done

MOCKED = definition({
    "Charge": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "charge_card", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["Lambda.ServiceException"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 3}],
        "Catch": [{"ErrorEquals": ["PaymentDeclined"], "Next": "Declined"}],
        "ResultSelector": {"charged.$": "$.Payload.charged"},
        "End": True,
    },
    "Declined": {"Type": "Fail", "Error": "Declined", "Cause": "the card was declined"},
})


@pytest.fixture(scope="module")
def mocked(sfn):
    # charge_card exists nowhere: the mock config covers this state machine.
    return sfn.create_state_machine(name="mocked", definition=MOCKED, roleArn=ROLE)["stateMachineArn"]


@pytest.mark.parametrize("case,status,result", [
    ("HappyPath", "SUCCEEDED", {"charged": 42}),
    ("RetryPath", "SUCCEEDED", {"charged": 7}),
    ("FailPath", "FAILED", "Declined"),
])
def test_test_cases(sfn, mocked, case, status, result):
    e = wait_done(sfn, sfn.start_execution(stateMachineArn=f"{mocked}#{case}", input="{}")["executionArn"])
    assert e["status"] == status
    if status == "SUCCEEDED":
        assert json.loads(e["output"]) == result
    else:
        assert e["error"] == result


def test_unknown_test_case(sfn, mocked):
    with pytest.raises(sfn.exceptions.ClientError) as e:
        sfn.start_execution(stateMachineArn=f"{mocked}#Nope")
    assert e.value.response["Error"]["Code"] == "ValidationException"
