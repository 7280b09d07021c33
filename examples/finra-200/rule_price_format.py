"""Audit rule: the last price is a well-formed positive decimal with two places.

Why: prices arrive as text from upstream systems; '1,234.50' or '12.345' means a
feed or a manual entry went wrong, and every later computation would be off.
"""
from __future__ import annotations

from typing import Any

from finra_data import PRICE_RE, cents, run_rule


def check(trades: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, str]]:
    found = []
    for t in trades:
        price = t["price"]
        if not PRICE_RE.match(price):
            found.append({"trade_id": t["trade_id"], "reason": f"malformed price {price!r}"})
        elif cents(price) <= 0:
            found.append({"trade_id": t["trade_id"], "reason": "price must be positive"})
    return found


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {portfolio, work, partition, partitions}."""
    return run_rule("price_format", args, check)
