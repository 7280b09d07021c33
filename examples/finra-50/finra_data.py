"""Shared helpers of the FINRA audit functions (not a workflow function itself).

Why a helper module: every rule reads trades the same way (money in integer
cents, partitions by account), and faastlane puts the workflow directory on
sys.path, so functions can import it like any local module.
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
MARKET_CSV = os.path.join(HERE, "market_data.csv")
PRICE_RE = re.compile(r"^\d{1,6}\.\d{2}$")


def cents(price: str) -> int:
    """'123.45' -> 12345. Integer cents keep every sum exact and deterministic."""
    whole, _, frac = price.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def load_bars(path: str = MARKET_CSV) -> dict[str, dict[str, dict[str, int]]]:
    """Read the bundled daily bars: ticker -> date -> {open, high, low, close, volume}."""
    bars: dict[str, dict[str, dict[str, int]]] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            bars.setdefault(row["ticker"], {})[row["date"]] = {
                "open": cents(row["open"]),
                "high": cents(row["high"]),
                "low": cents(row["low"]),
                "close": cents(row["close"]),
                "volume": int(row["volume"]),
            }
    return bars


def my_trades(args: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The trades of this branch's partition.

    Partitions split by account, not by position in the list, so per-account
    checks (a sale needs shares bought earlier) stay correct however many
    branches the Parallel state has: every variant yields the same report.
    """
    part, parts = int(args.get("partition", 0)), int(args.get("partitions", 1))
    for trade in args["portfolio"]["trades"]:
        if int(trade["account"][1:]) % parts == part:
            yield trade


Check = Callable[[list[dict[str, Any]], dict[str, Any]], list[dict[str, str]]]


def run_rule(name: str, args: dict[str, Any], check: Check) -> dict[str, Any]:
    """Run `check(trades, args) -> violations` `work` times (the benchmark knob).

    Repeating the whole pass, not sleeping, keeps the cost real CPU work with the
    same memory behaviour as a bigger portfolio.
    """
    trades = list(my_trades(args))
    violations: list[dict[str, str]] = []
    for _ in range(max(1, int(args.get("work", 1)))):
        violations = check(trades, args)
    return {
        "rule": name,
        "partition": int(args.get("partition", 0)),
        "checked": len(trades),
        "violations": violations,
    }
