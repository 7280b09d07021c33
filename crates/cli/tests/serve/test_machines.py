"""State machine actions through boto3 (botocore checks every response against the model)."""

import json

import pytest

from conftest import ROLE, definition, machine_arn

PASS = definition({"A": {"Type": "Pass", "End": True}})


def test_create_describe_update_delete(sfn):
    created = sfn.create_state_machine(name="lifecycle", definition=PASS, roleArn=ROLE)
    arn = created["stateMachineArn"]
    assert arn == machine_arn("lifecycle")
    d = sfn.describe_state_machine(stateMachineArn=arn)
    assert (d["name"], d["status"], d["type"], d["roleArn"]) == ("lifecycle", "ACTIVE", "STANDARD", ROLE)
    assert json.loads(d["definition"]) == json.loads(PASS)
    # Creating the very same machine again is idempotent.
    again = sfn.create_state_machine(name="lifecycle", definition=PASS, roleArn=ROLE)
    assert again["stateMachineArn"] == arn
    other = definition({"B": {"Type": "Succeed"}})
    with pytest.raises(sfn.exceptions.StateMachineAlreadyExists):
        sfn.create_state_machine(name="lifecycle", definition=other, roleArn=ROLE)
    updated = sfn.update_state_machine(stateMachineArn=arn, definition=other)
    assert updated["revisionId"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == json.loads(other)
    sfn.delete_state_machine(stateMachineArn=arn)
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=arn)


def test_invalid_definition_lists_located_problems(sfn):
    bad = definition({
        "First": {"Type": "Pass", "Next": "Nowhere"},
        "Odd": {"Type": "Teleport", "End": True},
    })
    with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
        sfn.create_state_machine(name="bad", definition=bad, roleArn=ROLE)
    message = e.value.response["Error"]["Message"]
    assert message.startswith("Invalid State Machine Definition: '")
    assert "/States/First/Next" in message and "Nowhere" in message
    assert "/States/Odd/Type" in message


def test_missing_function_is_an_invalid_definition(sfn):
    # A plain name (which AWS would not accept anyway) must exist when the machine is created.
    d = definition({"Call": {"Type": "Task", "Resource": "not_there", "End": True}})
    with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
        sfn.create_state_machine(name="nofn", definition=d, roleArn=ROLE)
    message = e.value.response["Error"]["Message"]
    assert "state 'Call'" in message and "not_there" in message


def test_a_lambda_arn_naming_no_function_fails_when_it_runs(sfn):
    # As on AWS: the machine is created; its execution fails with Lambda's error.
    d = definition({"Call": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:not_there", "End": True}})
    arn = sfn.create_state_machine(name="nofn-arn", definition=d, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    r = sfn.start_sync_execution(stateMachineArn=arn, input="{}")
    assert (r["status"], r["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")
    assert r["cause"].startswith(
        "Function not found: arn:aws:lambda:eu-west-1:123456789012:function:not_there:$LATEST "
        "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: "
    )


def test_a_function_named_at_run_time_is_found_in_the_functions_directories(sfn):
    d = definition({"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName.$": "$.fn", "Payload.$": "$.event"},
        "OutputPath": "$.Payload", "End": True}})
    arn = sfn.create_state_machine(name="dynamic", definition=d, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    r = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"fn": "double", "event": {"n": 4}}))
    assert (r["status"], json.loads(r["output"])) == ("SUCCEEDED", {"n": 8}), r
    r = sfn.start_sync_execution(stateMachineArn=arn, input=json.dumps({"fn": "nobody", "event": {}}))
    assert (r["status"], r["error"]) == ("FAILED", "Lambda.ResourceNotFoundException")


def test_validate_definition(sfn):
    ok = sfn.validate_state_machine_definition(definition=PASS)
    assert (ok["result"], ok["diagnostics"]) == ("OK", [])
    bad = sfn.validate_state_machine_definition(definition=definition({"A": {"Type": "Pass", "Next": "B"}}))
    assert bad["result"] == "FAIL"
    assert bad["diagnostics"][0]["location"] == "/States/A/Next"
    assert bad["diagnostics"][0]["severity"] == "ERROR"


def test_list_state_machines_pages(sfn):
    names = [f"page-{i}" for i in range(5)]
    for n in names:
        sfn.create_state_machine(name=n, definition=PASS, roleArn=ROLE)
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"maxResults": 2, **({"nextToken": token} if token else {})}
        page = sfn.list_state_machines(**kwargs)
        assert len(page["stateMachines"]) <= 2
        seen += [m["name"] for m in page["stateMachines"]]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert [n for n in seen if n.startswith("page-")] == names
    assert pages >= 3
    # The paginator botocore ships walks the same pages.
    all_names = [m["name"] for p in sfn.get_paginator("list_state_machines").paginate(PaginationConfig={"PageSize": 2}) for m in p["stateMachines"]]
    assert all_names == seen


def test_tags(sfn):
    arn = sfn.create_state_machine(name="tagged", definition=PASS, roleArn=ROLE, tags=[{"key": "team", "value": "a"}])["stateMachineArn"]
    sfn.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "test"}, {"key": "team", "value": "b"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "env", "value": "test"}, {"key": "team", "value": "b"}]
    sfn.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "b"}]
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.list_tags_for_resource(resourceArn=machine_arn("nope"))


def test_bad_parameters(sfn):
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_state_machine(stateMachineArn="not-an-arn")
    with pytest.raises(sfn.exceptions.InvalidName):
        sfn.create_state_machine(name="has space", definition=PASS, roleArn=ROLE)
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.list_state_machines(nextToken="bogus")
    with pytest.raises(sfn.exceptions.ClientError) as e:
        sfn.list_state_machines(maxResults=1001)
    assert e.value.response["Error"]["Code"] == "ValidationException"
