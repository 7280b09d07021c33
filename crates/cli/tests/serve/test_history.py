"""GetExecutionHistory of a Task + Parallel + Map workflow, as Step Functions records it."""

import json

import pytest

from conftest import ROLE, definition, wait_done

DOUBLE = "arn:aws:lambda:us-east-1:111111111111:function:double"

WORKFLOW = definition({
    "Double": {"Type": "Task", "Resource": DOUBLE, "Next": "Both"},
    "Both": {
        "Type": "Parallel",
        "Branches": [
            {"StartAt": "Inc", "States": {"Inc": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                                                  "Parameters": {"FunctionName": "increment", "Payload.$": "$"},
                                                  "OutputPath": "$.Payload", "End": True}}},
            {"StartAt": "Keep", "States": {"Keep": {"Type": "Pass", "End": True}}},
        ],
        "ResultSelector": {"items.$": "$"},
        "Next": "Each",
    },
    "Each": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "Twice", "States": {"Twice": {"Type": "Task", "Resource": DOUBLE, "End": True}}},
        "End": True,
    },
})


@pytest.fixture(scope="module")
def execution(sfn):
    arn = sfn.create_state_machine(name="history", definition=WORKFLOW, roleArn=ROLE)["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name="h1", input=json.dumps({"n": 5}))
    done = wait_done(sfn, started["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"n": 22}, {"n": 20}]
    return started["executionArn"]


def all_events(sfn, arn, **kwargs):
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn, **kwargs)
    return [e for page in pages for e in page["events"]]


def types(events):
    return [e["type"] for e in events]


def test_ids_and_previous_event_ids(sfn, execution):
    events = sfn.get_execution_history(executionArn=execution)["events"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted"
    assert events[0]["previousEventId"] == 0
    assert events[-1]["type"] == "ExecutionSucceeded"
    for e in events[1:]:
        assert 0 < e["previousEventId"] < e["id"], e
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    started = events[0]["executionStartedEventDetails"]
    assert json.loads(started["input"]) == {"n": 5}
    assert started["roleArn"]
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"]) == [{"n": 22}, {"n": 20}]


def test_lambda_task_events_follow_each_other(sfn, execution):
    events = sfn.get_execution_history(executionArn=execution)["events"]
    first = events[1:7]
    assert types(first) == [
        "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
        "LambdaFunctionSucceeded", "TaskStateExited", "ParallelStateEntered",
    ]
    for before, after in zip(first, first[1:]):
        assert after["previousEventId"] == before["id"], (before, after)
    assert first[0]["stateEnteredEventDetails"]["name"] == "Double"
    scheduled = first[1]["lambdaFunctionScheduledEventDetails"]
    assert scheduled["resource"] == DOUBLE
    assert json.loads(scheduled["input"]) == {"n": 5}
    assert json.loads(first[3]["lambdaFunctionSucceededEventDetails"]["output"]) == {"n": 10}
    assert first[4]["stateExitedEventDetails"]["name"] == "Double"
    # lambda:invoke is a service integration: Task* events, not LambdaFunction*.
    inc = [e for e in events if e.get("taskScheduledEventDetails")]
    assert len(inc) == 1
    assert inc[0]["taskScheduledEventDetails"]["resourceType"] == "lambda"
    assert inc[0]["taskScheduledEventDetails"]["resource"] == "invoke"


def test_parallel_and_map_events(sfn, execution):
    t = types(sfn.get_execution_history(executionArn=execution)["events"])
    for kind in ("ParallelStateEntered", "ParallelStateStarted", "ParallelStateSucceeded", "ParallelStateExited",
                 "MapStateEntered", "MapStateStarted", "MapStateSucceeded", "MapStateExited"):
        assert t.count(kind) == 1, (kind, t)
    assert t.index("ParallelStateStarted") < t.index("PassStateEntered") < t.index("ParallelStateSucceeded")
    assert t.count("MapIterationStarted") == 2 and t.count("MapIterationSucceeded") == 2
    assert t.count("LambdaFunctionSucceeded") == 3
    assert t.index("MapStateStarted") < t.index("MapIterationStarted") < t.index("MapStateSucceeded")


def test_map_iterations_are_numbered(sfn, execution):
    events = sfn.get_execution_history(executionArn=execution)["events"]
    iterations = [e["mapIterationStartedEventDetails"] for e in events if e["type"] == "MapIterationStarted"]
    assert [i["index"] for i in iterations] == [0, 1]
    assert all(i["name"] == "Each" for i in iterations)
    started = next(e for e in events if e["type"] == "MapStateStarted")
    assert started["mapStateStartedEventDetails"]["length"] == 2


def test_include_execution_data_false_drops_inputs_and_outputs(sfn, execution):
    full = sfn.get_execution_history(executionArn=execution)["events"]
    bare = sfn.get_execution_history(executionArn=execution, includeExecutionData=False)["events"]
    assert types(bare) == types(full)
    for e in bare:
        for key, details in e.items():
            if key.endswith("EventDetails"):
                assert "input" not in details and "output" not in details, e
    assert any("input" in d for e in full for k, d in e.items() if k.endswith("EventDetails"))


def test_reverse_order_and_pages(sfn, execution):
    full = sfn.get_execution_history(executionArn=execution)["events"]
    reverse = sfn.get_execution_history(executionArn=execution, reverseOrder=True)["events"]
    assert reverse == list(reversed(full))
    paged = all_events(sfn, execution, PaginationConfig={"PageSize": 4})
    assert paged == full
    pages = list(sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution, PaginationConfig={"PageSize": 4}))
    assert len(pages) == -(-len(full) // 4)
    assert all("nextToken" in p for p in pages[:-1]) and "nextToken" not in pages[-1]
    reverse_paged = all_events(sfn, execution, reverseOrder=True, PaginationConfig={"PageSize": 5})
    assert reverse_paged == reverse


def test_a_token_from_the_other_order_is_refused(sfn, execution):
    page = sfn.get_execution_history(executionArn=execution, maxResults=2)
    with pytest.raises(sfn.exceptions.InvalidToken):
        sfn.get_execution_history(executionArn=execution, maxResults=2, reverseOrder=True,
                                  nextToken=page["nextToken"])


def test_history_of_an_unknown_execution(sfn):
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.get_execution_history(
            executionArn="arn:aws:states:us-east-1:111111111111:execution:history:nope")
