"""Audit rule: the side is BUY, SELL or SHORT, and a SELL never exceeds the shares held.

Why: a long sale of shares the account does not own is an undisclosed short
sale (Reg SHO). The check replays each account's trades in order from its
opening positions, which is why partitions split by account.
"""
from __future__ import annotations

from typing import Any

from finra_data import run_rule

SIDES = {"BUY": 1, "SELL": -1, "SHORT": -1}


def check(trades: list[dict[str, Any]], args: dict[str, Any]) -> list[dict[str, str]]:
    held = {a["account"]: dict(a["positions"]) for a in args["portfolio"]["accounts"]}
    found = []
    for t in trades:
        side, qty = t["side"], t["quantity"]
        if side not in SIDES:
            found.append({"trade_id": t["trade_id"], "reason": f"invalid side {side!r}"})
            continue
        book = held.setdefault(t["account"], {})
        have = book.get(t["ticker"], 0)
        if side == "SELL" and qty > have:
            found.append({"trade_id": t["trade_id"], "reason": f"sells {qty} but holds {max(have, 0)}"})
        book[t["ticker"]] = have + SIDES[side] * qty
    return found


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {portfolio, work, partition, partitions}."""
    return run_rule("side", args, check)
