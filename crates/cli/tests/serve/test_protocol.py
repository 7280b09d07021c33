"""The AWS JSON 1.0 envelope itself, over plain HTTP."""

import json
import urllib.error
import urllib.request


def post(server, body, target="AWSStepFunctions.ListStateMachines"):
    req = urllib.request.Request(server.endpoint + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": target,
    })
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_malformed_json_is_a_serialization_exception(server):
    status, body = post(server, b"{nope")
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_wrong_member_type_is_a_serialization_exception(server):
    status, body = post(server, json.dumps({"maxResults": "ten"}).encode())
    assert status == 400
    assert json.loads(body)["__type"] == "SerializationException"


def test_unknown_action(server):
    status, body = post(server, b"{}", target="AWSStepFunctions.LaunchRocket")
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"
    status, body = post(server, b"{}", target="")
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_missing_required_member_is_a_validation_exception(server):
    status, body = post(server, b"{}", target="AWSStepFunctions.DescribeExecution")
    assert status == 400
    error = json.loads(body)
    assert error["__type"] == "ValidationException"
    assert "executionArn" in error["message"]


def test_body_limit_is_413(server):
    status, _ = post(server, b" " * (65 << 20))
    assert status == 413


def test_healthz_and_metrics(server, sfn):
    sfn.list_state_machines()
    with urllib.request.urlopen(server.endpoint + "/healthz", timeout=5) as r:
        assert json.loads(r.read())["status"] == "ok"
    with urllib.request.urlopen(server.endpoint + "/metrics", timeout=5) as r:
        text = r.read().decode()
    assert 'faastlane_api_requests_total{action="ListStateMachines",outcome="ok"}' in text
    assert "faastlane_executor_restarts_total" in text
