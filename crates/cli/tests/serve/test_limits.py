"""The limits of a shared server (issue 16, item 4), each through boto3 on a server started
with `--max-...` flags: definition size, state count and nesting, input and output size, Map
items, history events, wall time, and memory per executor."""

import json
import threading

import pytest

from conftest import ROLE, Server, definition, wait_done

LIMITS = [
    "--max-definition-bytes", "2000",
    "--max-states", "5",
    "--max-state-nesting", "1",
    "--max-input-bytes", "100",
    "--max-output-bytes", "200",
    "--max-map-items", "3",
    "--max-events", "40",
    "--max-seconds", "2",
    "--executor-memory-mb", "1024",
]


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("limits") / "serve.db", extra=LIMITS)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def sfn(limited):
    return limited.client()


def create(sfn, name, states):
    return sfn.create_state_machine(name=name, definition=definition(states), roleArn=ROLE)["stateMachineArn"]


def run(sfn, arn, payload=None):
    kwargs = {"input": json.dumps(payload)} if payload is not None else {}
    return wait_done(sfn, sfn.start_execution(stateMachineArn=arn, **kwargs)["executionArn"])


def refused(sfn, name, states):
    with pytest.raises(sfn.exceptions.InvalidDefinition) as e:
        create(sfn, name, states)
    return str(e.value)


def test_definition_size(sfn):
    message = refused(sfn, "big", {"P": {"Type": "Pass", "Comment": "x" * 3000, "End": True}})
    assert "more than the limit of 2000 bytes" in message, message


def test_state_count(sfn):
    states = {f"S{i}": {"Type": "Pass", "Next": f"S{i + 1}"} for i in range(5)}
    states["S5"] = {"Type": "Succeed"}
    message = refused(sfn, "many", states)
    assert "5" in message and "states" in message, message
    valid = sfn.validate_state_machine_definition(definition=definition(states))
    assert valid["result"] == "FAIL", valid


def test_state_nesting(sfn):
    inner = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
    outer = {"StartAt": "Q", "States": {"Q": {"Type": "Parallel", "Branches": [inner], "End": True}}}
    message = refused(sfn, "deep", {"P": {"Type": "Parallel", "Branches": [outer], "End": True}})
    assert "nest more than 1 deep" in message, message


def test_input_and_output_size(sfn):
    arn = create(sfn, "echo", {"P": {"Type": "Pass", "End": True}})
    assert run(sfn, arn, {"a": 1})["status"] == "SUCCEEDED"
    big_in = run(sfn, arn, {"a": "x" * 200})
    assert (big_in["status"], big_in["error"]) == ("FAILED", "States.DataLimitExceeded"), big_in
    assert "input" in big_in["cause"] and "limit of 100 bytes" in big_in["cause"], big_in
    grow = create(sfn, "grow", {"P": {"Type": "Pass", "Result": {"a": "y" * 300}, "End": True}})
    big_out = run(sfn, grow)
    assert (big_out["status"], big_out["error"]) == ("FAILED", "States.DataLimitExceeded"), big_out
    assert "output" in big_out["cause"] and "limit of 200 bytes" in big_out["cause"], big_out


def test_map_items(sfn):
    arn = create(sfn, "each", {"M": {"Type": "Map", "ItemProcessor": {
        "StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}, "End": True}})
    assert run(sfn, arn, [1, 2, 3])["status"] == "SUCCEEDED"
    over = run(sfn, arn, [1, 2, 3, 4])
    assert over["status"] == "FAILED", over
    assert "4 items, more than the limit of 3" in over["cause"], over


def test_history_events(sfn):
    arn = create(sfn, "loop", {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}})
    e = run(sfn, arn)
    assert (e["status"], e["error"]) == ("FAILED", "States.Runtime"), e
    assert "maximum number of history events (40)" in e["cause"], e
    # The server still answers.
    assert sfn.list_state_machines()["stateMachines"]


def test_wall_time(sfn):
    arn = create(sfn, "sleepy", {"W": {"Type": "Wait", "Seconds": 30, "End": True}})
    e = run(sfn, arn)
    # Timed out, as an execution past its own TimeoutSeconds, with the limit named.
    assert (e["status"], e["error"]) == ("TIMED_OUT", "States.Timeout"), e
    assert "longer than the limit of 2 s" in e["cause"], e


def test_executor_memory(sfn, limited):
    hog = create(sfn, "hog", {"H": {"Type": "Task", "Resource": "hog", "End": True}})
    double = create(sfn, "dbl", {"D": {"Type": "Task", "Resource": "double", "End": True}})
    small = run(sfn, hog, {"mib": 16})
    assert small["status"] == "SUCCEEDED", small
    results = {}

    def start(key, arn, payload):
        results[key] = run(sfn, arn, payload)

    threads = [threading.Thread(target=start, args=("hog", hog, {"mib": 4096})),
               threading.Thread(target=start, args=("double", double, {"n": 21}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    over = results["hog"]
    # Python's allocation fails past RLIMIT_AS: the function raises MemoryError.
    assert (over["status"], over["error"]) == ("FAILED", "MemoryError"), over
    assert results["double"]["status"] == "SUCCEEDED", results["double"]
    assert json.loads(results["double"]["output"]) == {"n": 42}
    # The server and its executors carry on.
    assert limited.proc.poll() is None
    assert run(sfn, double, {"n": 1})["status"] == "SUCCEEDED"
