"""The baseline's function container: one Python process that runs one function.

faastlane's benchmark compares running every function of a workflow in one process with the
way today's FaaS platforms run them: each function in its own container, the state between
functions passed through a store. This script is that container. The benchmark
(``crates/bench/src/container.rs``) starts it as

    python -S worker.py DIR FUNCTION SOCKET REDIS_PORT (once|serve) [SITE_PACKAGES...]

It imports the function (faastlane's discovery rules: module NAME.py or package NAME/ in
the workflow directory, or what functions.json maps NAME to; ``handler(event, context)``,
else ``main(args)``), listens on a Unix socket, writes ``ready`` to stdout, then serves
requests one at a time, like a warm container (``once``: one request, then exit, like a
cold one).

A request is one line, ``KEY<TAB>REQUEST_ID<TAB>FUNCTION_ARN<TAB>MS_LEFT|-``. The worker
GETs the input from Redis, unpickles it, calls the function, pickles the result (protocol
5: binary, no text escaping; numpy arrays and bytes work), SETs it under a new key and
answers ``ok<TAB>KEY``, or ``err<TAB>function|runtime<TAB>ERROR<TAB>CAUSE`` (a function's
cause is Lambda's JSON error shape).

Only the standard library, and as little of it as possible at start-up (a cold worker pays
for every import): the Redis client below speaks RESP over one reused TCP connection.
"""
from __future__ import annotations

import importlib
import os
import pickle
import socket
import sys
import time
from typing import Any


class Chunks:
    """A file that keeps what a Pickler writes as a list of chunks.

    With protocol 5 a Pickler writes a large str or bytes straight to its file instead of
    copying it into its frame buffer, so pickling a 1 MB string into this costs one UTF-8
    encoding (~60 us here) where pickle.dumps costs ~650 us; the chunks then go to Redis in
    one scatter-gather sendmsg.
    """

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        # The Pickler reuses the buffer behind a memoryview: keep a copy of those (they are
        # small frames); bytes objects are immutable and kept as they are.
        chunk = data if type(data) is bytes else bytes(data)
        self.chunks.append(chunk)
        self.size += len(chunk)
        return len(chunk)


def pickled(value: Any) -> Chunks:
    out = Chunks()
    pickle.Pickler(out, protocol=5).dump(value)
    return out


class Redis:
    """A minimal RESP2 client (GET and SET) on one reused TCP connection."""

    # Linux's IOV_MAX is 1024 buffers per sendmsg.
    MAX_BUFFERS = 512

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.reader = self.sock.makefile("rb", buffering=1 << 16)

    def _send(self, *parts: bytes | Chunks) -> None:
        """One command; a part may be a Chunks (a value in pieces). One sendmsg when it fits."""
        buffers: list[bytes | memoryview] = [b"*%d\r\n" % len(parts)]
        for part in parts:
            if isinstance(part, Chunks):
                buffers.append(b"$%d\r\n" % part.size)
                buffers.extend(part.chunks)
                buffers.append(b"\r\n")
            else:
                buffers.append(b"$%d\r\n%s\r\n" % (len(part), part))
        while buffers:
            batch = buffers[: self.MAX_BUFFERS]
            sent = self.sock.sendmsg(batch)
            # Drop what went out; a partial send leaves the rest of a buffer for next time.
            done = 0
            while done < len(batch) and sent >= len(batch[done]):
                sent -= len(batch[done])
                done += 1
            rest = buffers[done:]
            if sent and rest:
                rest[0] = memoryview(rest[0])[sent:]
            buffers = rest

    def _reply(self) -> Any:
        line = self.reader.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            buf = bytearray(n + 2)
            view = memoryview(buf)
            got = 0
            while got < n + 2:
                k = self.reader.readinto(view[got:])
                if not k:
                    raise ConnectionError("redis closed the connection")
                got += k
            del view
            del buf[n:]
            return buf
        raise RuntimeError("unexpected redis reply %r" % line)

    def get(self, key: str) -> bytearray:
        self._send(b"GET", key.encode())
        value = self._reply()
        if value is None:
            raise KeyError("no value at redis key " + key)
        return value

    def set(self, key: str, value: Chunks) -> None:
        self._send(b"SET", key.encode(), value)
        self._reply()


class Context:
    """What Lambda passes as ``context`` (the fields the examples and common code read)."""

    def __init__(self, function: str, request: Request, started: float) -> None:
        self.function_name = function
        self.function_version = "$LATEST"
        self.invoked_function_arn = request.function_arn or function
        self.memory_limit_in_mb = os.environ.get("FAASTLANE_MEMORY_MB", "128")
        self.aws_request_id = request.request_id
        self.log_group_name = "/aws/lambda/" + function
        self.log_stream_name = "baseline"
        self.client_context = None
        self.identity = None
        budget = request.deadline_ms / 1000.0 if request.deadline_ms is not None else 900.0
        self._deadline = started + budget

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Request:
    """One request line: input key, request id, function ARN, milliseconds left (or -),
    separated by tabs. Not JSON: importing json (and re) costs a cold worker milliseconds."""

    def __init__(self, line: bytes) -> None:
        fields = line.rstrip(b"\n").decode().split("\t")
        if len(fields) != 4:
            raise ValueError("bad request line %r" % line)
        self.input, self.request_id, self.function_arn, deadline = fields
        self.deadline_ms = None if deadline == "-" else int(deadline)


def resolve(directory: str, name: str) -> tuple[Any, int]:
    """The callable for ``name`` and its arity (2: handler(event, context); 1: main(args))."""
    module_name, attribute = name, None
    manifest = os.path.join(directory, "functions.json")
    if os.path.isfile(manifest):
        import json

        with open(manifest, encoding="utf-8") as f:
            spec = json.load(f).get(name)
        if spec:
            if ":" in spec:
                module_name, attribute = spec.split(":", 1)
            else:
                module_name, attribute = spec.rsplit(".", 1)
    module = importlib.import_module(module_name)
    if attribute is None:
        for attribute, default in (("handler", 2), ("main", 1)):
            if getattr(module, attribute, None) is not None:
                break
        else:
            raise LookupError("%s defines neither handler(event, context) nor main(args)" % name)
    else:
        default = 2
    function = getattr(module, attribute)
    return function, arity(function, default)


def arity(function: Any, default: int) -> int:
    """How many positional arguments to pass: faastlane's own rule (``_faastlane_signature``,
    the embedded runtime's ``signature.py``, written beside this script)."""
    from _faastlane_signature import arity as shared_arity

    n = shared_arity(function, default)
    if n == 0:
        raise TypeError("%r must accept (event, context) or (args)" % function)
    return n


def error_reply(exc: BaseException, request_id: str) -> bytes:
    """``err<TAB>function<TAB>ErrorName<TAB>cause JSON``: Lambda's error shape."""
    import json
    import traceback

    frames = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    cause = {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": frames,
    }
    return ("err\tfunction\t%s\t%s\n" % (type(exc).__name__, json.dumps(cause))).encode()


def runtime_error(name: str, exc: BaseException) -> bytes:
    """The platform failed, not the function."""
    cause = repr(exc).replace("\t", " ").replace("\n", " ")
    return ("err\truntime\t%s\t%s\n" % (name, cause)).encode()


def serve(conn: socket.socket, redis: Redis, name: str, function: Any, arity: int, once: bool) -> None:
    """Answers ``ok<TAB>output key`` or an error line, per request line."""
    reader = conn.makefile("rb")
    counter = 0
    while True:
        line = reader.readline()
        if not line:
            return
        request = Request(line)
        started = time.monotonic()
        try:
            event = pickle.loads(redis.get(request.input))
        except Exception as exc:
            reply = runtime_error("Runtime.InputError", exc)
        else:
            try:
                if arity == 2:
                    result = function(event, Context(name, request, started))
                else:
                    result = function(event)
            except Exception as exc:
                reply = error_reply(exc, request.request_id)
            else:
                counter += 1
                key = "%s:out:%d:%d" % (request.input, os.getpid(), counter)
                try:
                    redis.set(key, pickled(result))
                except Exception as exc:
                    reply = runtime_error("Runtime.MarshalError", exc)
                else:
                    reply = ("ok\t%s\n" % key).encode()
                del result
            del event
        conn.sendall(reply)
        if once:
            return


def main() -> None:
    # python -S worker.py DIR FUNCTION SOCKET REDIS_PORT ONCE [SITE...]: positional, no
    # argparse (a cold worker would pay for importing it).
    directory, name, socket_path, port, once, *sites = sys.argv[1:]
    # Started with -S: no site module, so no .pth files run at start-up (a slow one costs
    # every cold start ~25 ms here); the installation's site-packages and the workflow's
    # environment are put on sys.path directly, the environment first.
    import site

    # stdout carries only the ready line; what functions print goes to stderr.
    ready = sys.stdout
    sys.stdout = sys.stderr
    directory = os.path.abspath(directory)
    os.chdir(directory)
    sys.path[0:0] = [directory, *sites]
    sys.path.extend(p for p in site.getsitepackages() if p not in sys.path)

    function, arity = resolve(directory, name)
    redis = Redis(int(port))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(1)
    ready.write("ready\n")
    ready.flush()
    single = once == "once"
    while True:
        conn, _ = listener.accept()
        with conn:
            serve(conn, redis, name, function, arity, single)
        if single:
            break
    listener.close()
    try:
        os.unlink(socket_path)
    except OSError:
        pass


if __name__ == "__main__":
    main()
