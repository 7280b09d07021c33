#!/usr/bin/env python3
"""Unit checks of the FINRA functions: `python3 test_functions.py` (no pytest needed).

Why these: each audit rule must find exactly its kind of error on a hand-made
trade, the generator must be deterministic, and partitioning by account must
not change what the rules find (the benchmark variants rely on it).
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fetch_market_data  # noqa: E402
import fetch_portfolio  # noqa: E402
import margin_balance  # noqa: E402
import rule_market_consistency  # noqa: E402
import rule_price_format  # noqa: E402
import rule_side  # noqa: E402
import rule_trade_date  # noqa: E402
import rule_volume  # noqa: E402

RULES = [rule_market_consistency, rule_price_format, rule_side, rule_trade_date, rule_volume]
GOOD = {"trade_id": "T1", "account": "A001", "ticker": "ACME", "side": "BUY",
        "quantity": 100, "price": "", "trade_date": "2024-03-05"}


def state(trades: list[dict]) -> dict:
    portfolio = {"portfolio_id": "T", "as_of": "2024-03-31", "trades": trades,
                 "accounts": [{"account": "A001", "cash_cents": 10_000_000, "positions": {"ACME": 50}}]}
    return {"portfolio": portfolio, "market": fetch_market_data.main({"portfolio": portfolio}), "work": 1}


def good_trade(**changes) -> dict:
    bar = fetch_market_data.load_bars()["ACME"]["2024-03-05"]
    mid = (bar["low"] + bar["high"]) // 2
    return {**GOOD, "price": f"{mid // 100}.{mid % 100:02d}", **changes}


def found(rule, **changes) -> list[str]:
    return [v["reason"] for v in rule.main(state([good_trade(**changes)]))["violations"]]


def test_clean_trade_passes_every_rule() -> None:
    for rule in RULES:
        assert found(rule) == [], rule.__name__


def test_each_rule_finds_its_error() -> None:
    assert found(rule_market_consistency, ticker="ZZQX") == ["unknown ticker ZZQX"]
    assert found(rule_market_consistency, price="9999.00")[0].startswith("price 9999.00 outside")
    assert found(rule_price_format, price="1,234.50") == ["malformed price '1,234.50'"]
    assert found(rule_price_format, price="0.00") == ["price must be positive"]
    assert found(rule_side, side="B") == ["invalid side 'B'"]
    assert found(rule_side, side="SELL", quantity=60) == ["sells 60 but holds 50"]
    assert found(rule_side, side="SELL", quantity=50) == []
    assert found(rule_trade_date, trade_date="2024-03-09") == ["2024-03-09 is a Saturday"]
    assert found(rule_trade_date, trade_date="2024-03-29") == ["2024-03-29 is not a trading day"]
    assert found(rule_trade_date, trade_date="2024-04-02") == ["2024-04-02 is after as-of 2024-03-31"]
    assert found(rule_trade_date, trade_date="2024-02-30") == ["invalid date '2024-02-30'"]
    assert found(rule_volume, quantity=0) == ["invalid quantity 0"]
    assert "exceed 1% of volume" in found(rule_volume, quantity=10_000_000)[0]


def test_portfolio_is_deterministic() -> None:
    args = {"seed": 7, "trades": 50}
    assert fetch_portfolio.main(args) == fetch_portfolio.main(args)
    assert fetch_portfolio.main(args) != fetch_portfolio.main({"seed": 8, "trades": 50})


def test_partitions_find_the_same_violations() -> None:
    s = {**state([]), "portfolio": fetch_portfolio.main({"seed": 3, "trades": 300, "error_rate": 0.02})}
    for rule in RULES:
        whole = rule.main(s)["violations"]
        split = [v for p in range(4) for v in rule.main({**s, "partition": p, "partitions": 4})["violations"]]
        key = lambda v: v["trade_id"]  # noqa: E731
        assert sorted(whole, key=key) == sorted(split, key=key), rule.__name__


def test_margin_replays_clean_trades_only() -> None:
    s = state([good_trade(quantity=100), good_trade(trade_id="T2", side="B")])
    s["audit"] = [r.main(s) for r in RULES]
    report = margin_balance.main(s)
    assert report["flagged_trades"] == 1 and report["violations"][0]["trade_id"] == "T2"
    acct = report["accounts"][0]
    assert acct["requirement"] > 0 and acct["margin_call"] is False


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
