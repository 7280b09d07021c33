"""FINRA last step: join every audit branch and check each account's margin.

Why it is the join: it needs all rule results to know which trades are clean;
only clean trades move positions and cash. Margin follows Reg T / FINRA 4210 in
spirit: equity must cover 25% of long and 30% of short market value. The output
is a small JSON report (the portfolio and market data stay behind).
"""
from __future__ import annotations

from typing import Any

from finra_data import cents

SIGN = {"BUY": 1, "SELL": -1, "SHORT": -1}


def closing_prices(market: dict[str, Any], as_of: str) -> dict[str, int]:
    """Each ticker's last close on or before as-of, in cents."""
    out = {}
    for ticker, days in market["bars"].items():
        last = max(d for d in days if d <= as_of)
        out[ticker] = days[last]["close"]
    return out


def account_margin(account: dict[str, Any], trades: list[dict[str, Any]], close: dict[str, int]) -> dict[str, Any]:
    """Replay clean trades on the opening book and compare equity with the requirement."""
    cash = account["cash_cents"]
    book = dict(account["positions"])
    for t in trades:
        sign = SIGN[t["side"]]
        book[t["ticker"]] = book.get(t["ticker"], 0) + sign * t["quantity"]
        cash -= sign * t["quantity"] * cents(t["price"])
    long_value = sum(q * close[t] for t, q in book.items() if q > 0)
    short_value = sum(-q * close[t] for t, q in book.items() if q < 0)
    equity = cash + long_value - short_value
    requirement = (25 * long_value + 30 * short_value) // 100
    return {
        "account": account["account"],
        "equity": equity / 100,
        "requirement": requirement / 100,
        "excess": (equity - requirement) / 100,
        "margin_call": equity < requirement,
    }


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {portfolio, market, audit: [rule results]}; returns the report."""
    portfolio, audit = args["portfolio"], args["audit"]
    violations = sorted(
        ({"trade_id": v["trade_id"], "rule": r["rule"], "reason": v["reason"]} for r in audit for v in r["violations"]),
        key=lambda v: (v["trade_id"], v["rule"]),
    )
    by_rule: dict[str, int] = {}
    for r in audit:
        by_rule[r["rule"]] = by_rule.get(r["rule"], 0) + len(r["violations"])
    flagged = {v["trade_id"] for v in violations}
    close = closing_prices(args["market"], portfolio["as_of"])
    clean = [t for t in portfolio["trades"] if t["trade_id"] not in flagged]
    accounts = [account_margin(a, [t for t in clean if t["account"] == a["account"]], close) for a in portfolio["accounts"]]
    return {
        "portfolio_id": portfolio["portfolio_id"],
        "as_of": portfolio["as_of"],
        "trades": len(portfolio["trades"]),
        "rule_results": len(audit),
        "trades_checked": sum(r["checked"] for r in audit),
        "violations_by_rule": dict(sorted(by_rule.items())),
        "flagged_trades": len(flagged),
        "violations": violations,
        "accounts": accounts,
        "margin_calls": [a["account"] for a in accounts if a["margin_call"]],
    }
