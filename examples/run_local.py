#!/usr/bin/env python3
"""A tiny reference runner for the example workflows.

Why this exists: it lets us check every example end to end (and bless its
expected.json) before faastlane's embedded Python runtime lands, and it is a
second, independent reading of the ASL semantics the examples rely on.

It supports only the ASL subset the examples use: Task, Pass, Choice, Parallel,
Map, Succeed, Fail; InputPath, Parameters / ItemSelector, ResultSelector,
ResultPath, OutputPath with definite paths (`$`, `$.a.b`, `$.a[0]`, `$$.Map.Item.Value`);
Choice rules And/Or/Not, String/Numeric/Boolean comparisons (also `...Path`), IsPresent.
Retry and Catch are accepted and ignored (nothing here fails transiently).

Like faastlane, a function's return value reaches the next state as the same
Python object; only the final output must be JSON. Branches run sequentially.

Usage:
  run_local.py DIR [INPUT.json]      run DIR/workflow.json, print the output
  run_local.py --check DIR...        run each DIR/input*.json, compare with expected*.json
"""
from __future__ import annotations

import copy
import importlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

LAMBDA_ARN = re.compile(r"^arn:aws:lambda:[^:]*:[^:]*:function:([^:]+)(?::[^:]+)?$")
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
_TOKEN = re.compile(r"\.([A-Za-z_][\w-]*)|\[(\d+)\]")


class WorkflowError(Exception):
    """A States.* style failure: bad path, failed Fail state, missing function."""


@dataclass
class LocalContext:
    """The Lambda context object, with the few attributes a function may read."""

    function_name: str
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    invoked_function_arn: str = ""
    memory_limit_in_mb: int = 128

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


# ---------------------------------------------------------------- paths
def read_path(path: str, data: Any, ctx: dict[str, Any]) -> Any:
    """Evaluate a definite JSONPath (`$`, `$.a.b[0]`, `$$.Map.Item.Value`)."""
    if path.startswith("$$"):
        node, rest = ctx, path[2:]
    elif path.startswith("$"):
        node, rest = data, path[1:]
    else:
        raise WorkflowError(f"States.Runtime: unsupported path {path!r}")
    pos = 0
    while pos < len(rest):
        m = _TOKEN.match(rest, pos)
        if not m:
            raise WorkflowError(f"States.Runtime: unsupported path {path!r}")
        key, idx = m.group(1), m.group(2)
        try:
            node = node[key] if key is not None else node[int(idx)]
        except (KeyError, IndexError, TypeError) as e:
            raise WorkflowError(f"States.Runtime: path {path!r} not found") from e
        pos = m.end()
    return node


def write_path(path: str, doc: Any, value: Any) -> Any:
    """Place value at a ResultPath, copying (not mutating) the dicts on the way."""
    if path == "$":
        return value
    keys = path[2:].split(".")  # ResultPath in the examples is `$.a` or `$.a.b`
    root = dict(doc) if isinstance(doc, dict) else {}
    node = root
    for key in keys[:-1]:
        child = node.get(key)
        node[key] = dict(child) if isinstance(child, dict) else {}
        node = node[key]
    node[keys[-1]] = value
    return root


def template(tpl: Any, data: Any, ctx: dict[str, Any]) -> Any:
    """Evaluate a payload template: keys ending in `.$` take a path's value."""
    if isinstance(tpl, dict):
        out = {}
        for k, v in tpl.items():
            if k.endswith(".$"):
                out[k[:-2]] = read_path(v, data, ctx)
            else:
                out[k] = template(v, data, ctx)
        return out
    if isinstance(tpl, list):
        return [template(v, data, ctx) for v in tpl]
    return tpl


# ---------------------------------------------------------------- choice
_COMPARE = {
    "Equals": lambda a, b: a == b,
    "LessThan": lambda a, b: a < b,
    "GreaterThan": lambda a, b: a > b,
    "LessThanEquals": lambda a, b: a <= b,
    "GreaterThanEquals": lambda a, b: a >= b,
}
_KIND = {"String": str, "Numeric": (int, float), "Boolean": bool}


def rule_matches(rule: dict[str, Any], data: Any, ctx: dict[str, Any]) -> bool:
    """Evaluate one Choice rule the way Step Functions does (type mismatch: False)."""
    if "And" in rule:
        return all(rule_matches(r, data, ctx) for r in rule["And"])
    if "Or" in rule:
        return any(rule_matches(r, data, ctx) for r in rule["Or"])
    if "Not" in rule:
        return not rule_matches(rule["Not"], data, ctx)
    try:
        value = read_path(rule["Variable"], data, ctx)
        present = True
    except WorkflowError:
        value, present = None, False
    if "IsPresent" in rule:
        return present == rule["IsPresent"]
    if not present:
        raise WorkflowError(f"States.Runtime: Variable {rule['Variable']!r} not found")
    for op, operand in rule.items():
        m = re.fullmatch(r"(String|Numeric|Boolean)(\w+?)(Path)?", op)
        if not m or m.group(2) not in _COMPARE:
            continue
        kind, cmp, is_path = m.groups()
        other = read_path(operand, data, ctx) if is_path else operand
        ok_type = _KIND[kind]
        if kind == "Numeric" and isinstance(value, bool):
            return False
        if not isinstance(value, ok_type) or not isinstance(other, ok_type):
            return False
        return _COMPARE[cmp](value, other)
    raise WorkflowError(f"unsupported choice rule {rule}")


# ---------------------------------------------------------------- runner
@dataclass
class Runner:
    """Interprets one workflow directory; modules are imported once and cached."""

    workdir: Path
    modules: dict[str, ModuleType] = field(default_factory=dict)
    calls: int = 0

    def function(self, name: str) -> ModuleType:
        if name not in self.modules:
            if str(self.workdir) not in sys.path:
                sys.path.insert(0, str(self.workdir))
            self.modules[name] = importlib.import_module(name)
        return self.modules[name]

    def invoke(self, name: str, event: Any) -> Any:
        """Call handler(event, context) if the module has one, else main(args)."""
        self.calls += 1
        module = self.function(name)
        if hasattr(module, "handler"):
            return module.handler(event, LocalContext(function_name=name))
        if hasattr(module, "main"):
            return module.main(event)
        raise WorkflowError(f"States.Runtime: {name}.py defines neither handler nor main")

    def run_machine(self, machine: dict[str, Any], data: Any, ctx: dict[str, Any]) -> Any:
        name = machine["StartAt"]
        while True:
            state = machine["States"][name]
            data, nxt = self.run_state(name, state, data, ctx)
            if nxt is None:
                return data
            name = nxt

    def run_state(self, name: str, st: dict[str, Any], raw: Any, ctx: dict[str, Any]):
        kind = st["Type"]
        if kind == "Succeed":
            return self.output(st, raw, ctx), None
        if kind == "Fail":
            raise WorkflowError(f"{st.get('Error', 'States.Fail')}: {st.get('Cause', '')}")
        input_path = st.get("InputPath", "$")
        effective = {} if input_path is None else read_path(input_path, raw, ctx)
        if kind == "Choice":
            for rule in st["Choices"]:
                if rule_matches(rule, effective, ctx):
                    return self.output(st, effective, ctx), rule["Next"]
            if "Default" not in st:
                raise WorkflowError("States.NoChoiceMatched")
            return self.output(st, effective, ctx), st["Default"]
        if kind == "Map":
            items = read_path(st.get("ItemsPath", "$"), effective, ctx)
            selector = st.get("ItemSelector", st.get("Parameters"))
            proc = st.get("ItemProcessor", st.get("Iterator"))
            result = []
            for i, item in enumerate(items):
                item_ctx = {**ctx, "Map": {"Item": {"Index": i, "Value": item}}}
                arg = template(selector, effective, item_ctx) if selector is not None else item
                result.append(self.run_machine(proc, arg, ctx))
        else:
            if "Parameters" in st:
                effective = template(st["Parameters"], effective, ctx)
            if kind == "Pass":
                result = copy.deepcopy(st["Result"]) if "Result" in st else effective
            elif kind == "Task":
                result = self.task(st["Resource"], effective)
            elif kind == "Parallel":
                result = [self.run_machine(b, effective, ctx) for b in st["Branches"]]
            else:
                raise WorkflowError(f"unsupported state type {kind} in {name}")
        if "ResultSelector" in st:
            result = template(st["ResultSelector"], result, ctx)
        rp = st.get("ResultPath", "$")
        data = raw if rp is None else write_path(rp, raw, result)
        return self.output(st, data, ctx), (None if st.get("End") else st["Next"])

    def task(self, resource: str, effective: Any) -> Any:
        if resource == LAMBDA_INVOKE:
            fn = effective["FunctionName"]
            m = LAMBDA_ARN.match(fn)
            name = m.group(1) if m else fn.split(":")[0]
            payload = self.invoke(name, effective.get("Payload", {}))
            return {"ExecutedVersion": "$LATEST", "Payload": payload, "StatusCode": 200}
        m = LAMBDA_ARN.match(resource)
        return self.invoke(m.group(1) if m else resource, effective)

    @staticmethod
    def output(st: dict[str, Any], data: Any, ctx: dict[str, Any]) -> Any:
        op = st.get("OutputPath", "$")
        return {} if op is None else read_path(op, data, ctx)


def run(workdir: Path, input_file: Path) -> tuple[Any, float, int]:
    """Run one execution; return (output, seconds, task calls)."""
    machine = json.loads((workdir / "workflow.json").read_text())
    data = json.loads(input_file.read_text())
    runner = Runner(workdir.resolve())
    ctx = {"Execution": {"Name": "local", "Input": data}, "StateMachine": {"Name": workdir.name}}
    start = time.perf_counter()
    out = runner.run_machine(machine, data, ctx)
    elapsed = time.perf_counter() - start
    json.dumps(out)  # the final output must be JSON: fail loudly here if it is not
    return out, elapsed, runner.calls


def check(workdir: Path) -> bool:
    """Run every input*.json of a directory and compare with its expected*.json."""
    ok = True
    for inp in sorted(workdir.glob("input*.json")):
        exp = workdir / inp.name.replace("input", "expected", 1)
        out, cold, calls = run(workdir, inp)  # the first run in this process imports the modules
        again, warm, _ = run(workdir, inp)
        good = exp.exists() and json.loads(json.dumps(out)) == json.loads(exp.read_text()) and again == out
        ok &= good
        print(f"{'ok  ' if good else 'FAIL'} {workdir.resolve().name}/{inp.name}: "
              f"first {cold * 1000:.1f} ms, again {warm * 1000:.1f} ms, {calls} calls")
    return ok


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--check":
        # one process per directory: each app's modules get a clean sys.modules
        import subprocess

        codes = [subprocess.call([sys.executable, __file__, "--check-one", d]) for d in argv[1:]]
        return 1 if any(codes) else 0
    if argv and argv[0] == "--check-one":
        return 0 if check(Path(argv[1])) else 1
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    workdir = Path(argv[0])
    out, secs, calls = run(workdir, Path(argv[1]) if len(argv) > 1 else workdir / "input.json")
    print(json.dumps(out, indent=2))
    print(f"{secs * 1000:.1f} ms, {calls} calls", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
