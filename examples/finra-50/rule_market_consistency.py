"""Audit rule: each trade agrees with the market (known ticker, priced in the day's range).

Why: a print outside the day's low-high range is either a booking error or a
trade away from the market; both must be reviewed.
"""
from __future__ import annotations

from typing import Any

from finra_data import PRICE_RE, cents, run_rule


def check(trades: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, str]]:
    bars = args["market"]["bars"]
    found = []
    for t in trades:
        days = bars.get(t["ticker"])
        if days is None:
            found.append({"trade_id": t["trade_id"], "reason": f"unknown ticker {t['ticker']}"})
            continue
        bar = days.get(t["trade_date"])
        if bar is None:
            found.append({"trade_id": t["trade_id"], "reason": f"no market data on {t['trade_date']}"})
        elif PRICE_RE.match(t["price"]) and not bar["low"] <= cents(t["price"]) <= bar["high"]:
            found.append({
                "trade_id": t["trade_id"],
                "reason": f"price {t['price']} outside {bar['low'] / 100:.2f}-{bar['high'] / 100:.2f}",
            })
    return found


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {portfolio, market, work, partition, partitions}."""
    return run_rule("market_consistency", args, check)
