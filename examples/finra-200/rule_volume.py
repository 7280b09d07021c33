"""Audit rule: the quantity is positive and at most 1% of the day's traded volume.

Why: an order that large moves the market and must be reported and reviewed;
a zero or negative quantity is a booking error.
"""
from __future__ import annotations

from typing import Any

from finra_data import run_rule

MAX_SHARE_PCT = 1


def check(trades: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, str]]:
    bars = args["market"]["bars"]
    found = []
    for t in trades:
        qty = t["quantity"]
        if not isinstance(qty, int) or qty <= 0:
            found.append({"trade_id": t["trade_id"], "reason": f"invalid quantity {qty!r}"})
            continue
        bar = bars.get(t["ticker"], {}).get(t["trade_date"])
        if bar is not None and qty * 100 > bar["volume"] * MAX_SHARE_PCT:
            found.append({
                "trade_id": t["trade_id"],
                "reason": f"{qty} shares exceed {MAX_SHARE_PCT}% of volume {bar['volume']}",
            })
    return found


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {portfolio, market, work, partition, partitions}."""
    return run_rule("volume", args, check)
