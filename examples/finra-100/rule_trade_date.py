"""Audit rule: the trade date is a valid ISO date, a trading day, and not after as-of.

Why: trades dated on a weekend or holiday, or in the future, are booking errors
that break settlement (T+1) and every report keyed by date.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from finra_data import run_rule


def check(trades: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, str]]:
    calendar = set(args["market"]["calendar"])
    as_of = args["portfolio"]["as_of"]
    found = []
    for t in trades:
        date = t["trade_date"]
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            found.append({"trade_id": t["trade_id"], "reason": f"invalid date {date!r}"})
            continue
        if date > as_of:
            found.append({"trade_id": t["trade_id"], "reason": f"{date} is after as-of {as_of}"})
        elif day.weekday() >= 5:
            found.append({"trade_id": t["trade_id"], "reason": f"{date} is a {day.strftime('%A')}"})
        elif date not in calendar:
            found.append({"trade_id": t["trade_id"], "reason": f"{date} is not a trading day"})
    return found


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {portfolio, market, work, partition, partitions}."""
    return run_rule("trade_date", args, check)
