"""Fixtures: a `faastlane serve` on a free loopback port, and boto3 / AWS CLI clients of it.

FAASTLANE_BIN names the binary (the Rust test `serve` sets it). Every server a test starts is
killed when the test ends.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[3] / "examples"
REGION = "us-east-1"
ACCOUNT = "111111111111"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/test"

# The clients need credentials to sign with (the server does not check them), and must not
# prepend `sync-` to the host for StartSyncExecution (as with Step Functions Local).
os.environ.update(
    AWS_ACCESS_KEY_ID="test",
    AWS_SECRET_ACCESS_KEY="test",
    AWS_DEFAULT_REGION=REGION,
    AWS_DISABLE_HOST_PREFIX_INJECTION="true",
    AWS_EC2_METADATA_DISABLED="true",
    AWS_CONFIG_FILE="/dev/null",
    AWS_SHARED_CREDENTIALS_FILE="/dev/null",
)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_shape(shape, value, where):
    """Fails when `value` lacks a member the service model requires, or has one it does not
    know (botocore's parser silently drops those)."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        for member in shape.required_members:
            assert member in value, f"{where}: required member '{member}' missing"
        for member, inner in value.items():
            if member == "ResponseMetadata" and where == "$":
                continue
            assert member in shape.members, f"{where}: '{member}' is not in the model"
            check_shape(shape.members[member], inner, f"{where}.{member}")
    elif shape.type_name == "list":
        assert isinstance(value, list), f"{where}: expected a list"
        for i, item in enumerate(value):
            check_shape(shape.member, item, f"{where}[{i}]")
    elif shape.type_name == "string" and getattr(shape, "enum", None):
        assert value in shape.enum, f"{where}: {value!r} is not one of {shape.enum}"


def check_response_shape(http_response, parsed, model, **kwargs):
    """Checks the raw JSON body (botocore's parser drops members the model does not know)."""
    if http_response.status_code == 200 and model.output_shape is not None:
        check_shape(model.output_shape, json.loads(http_response.content or b"{}"), "$")


class Server:
    """One `faastlane serve` process."""

    def __init__(self, db, extra=(), workers=2, functions=True):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(str(db) + f".{self.port}.log")
        self.log = open(self.log_path, "w")
        args = [
            os.environ["FAASTLANE_BIN"], "serve",
            "--port", str(self.port),
            "--db", str(db),
            "--workers", str(workers),
            *(["--functions", str(HERE / "functions")] if functions else []),
            "--grace-seconds", "2",
            *extra,
        ]
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"faastlane serve exited with {self.proc.returncode}: {args}")
            try:
                with urllib.request.urlopen(self.endpoint + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("faastlane serve did not answer /healthz within 60 s")
            time.sleep(0.05)

    def client(self):
        client = boto3.client("stepfunctions", endpoint_url=self.endpoint, region_name=REGION)
        client.meta.events.register("after-call.*", check_response_shape)
        return client

    def executors(self):
        """The pids of the server's executor processes."""
        pids = set()
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                pids.update(int(p) for p in (task / "children").read_text().split())
            except OSError:
                pass
        return pids

    def kill(self, sig=signal.SIGKILL):
        """Signals the server process alone, as `kill -9 PID` does."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "serve.db"
    s = Server(
        db,
        extra=[
            "--mock-config", str(HERE / "mock.json"),
            str(EXAMPLES / "finra"), str(EXAMPLES / "healthcare"), str(EXAMPLES / "hello"),
        ],
    )
    yield s
    s.stop()


@pytest.fixture(scope="session")
def sfn(server):
    return server.client()


def machine_arn(name):
    return f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"


def wait_done(sfn, arn, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        if time.monotonic() > deadline:
            raise AssertionError(f"{arn} still RUNNING after {timeout} s")
        time.sleep(0.05)


def wait_gone(pids, timeout=30):
    """Waits until none of `pids` exists (bounded); returns those still there."""
    deadline = time.monotonic() + timeout
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {p for p in alive if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text()}
        time.sleep(0.05)
    return alive


def definition(states, start=None):
    return json.dumps({"StartAt": start or next(iter(states)), "States": states})
