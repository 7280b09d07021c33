"""FINRA step 1: fetch the portfolio (the trade book) to audit.

Why generated: the paper's app pulls a real portfolio; here a seeded generator
builds one (accounts, opening positions, a day-ordered list of trades) so the
workflow needs no network and any size can be benchmarked. Trades are priced
inside the bundled market's daily ranges, then a small share get one injected
error each, so every audit rule has something to find.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from finra_data import load_bars

FIELD_ERRORS = (
    "unknown_ticker", "price_out_of_range", "bad_price_format", "bad_side",
    "oversell", "weekend_date", "future_date", "huge_quantity", "zero_quantity",
)


def _pick(rng: random.Random, seq: Sequence[Any]) -> Any:
    # rng.random() only: its sequence is the same on every CPython 3 version
    return seq[int(rng.random() * len(seq))]


def generate(seed: int, n_trades: int, n_accounts: int, as_of: str, error_rate: float) -> dict[str, Any]:
    """Build a deterministic portfolio: same arguments, same trades."""
    rng = random.Random(seed)
    bars = load_bars()
    tickers = sorted(bars)
    days = sorted({d for t in tickers for d in bars[t] if d <= as_of})
    accounts = [f"A{i:03d}" for i in range(1, n_accounts + 1)]
    cash = {a: 20_000_00 + int(rng.random() * 100_000) * 100 for a in accounts}
    positions = {a: {_pick(rng, tickers): 10 * (5 + int(rng.random() * 40)) for _ in range(3)} for a in accounts}
    held = {a: dict(p) for a, p in positions.items()}
    dates = sorted(_pick(rng, days) for _ in range(n_trades))
    trades = []
    for i, date in enumerate(dates, 1):
        account = _pick(rng, accounts)
        roll = rng.random()
        side = "BUY" if roll < 0.55 else "SELL" if roll < 0.85 else "SHORT"
        owned = sorted(t for t, q in held[account].items() if q > 0 and t in bars)
        if side == "SELL" and not owned:
            side = "BUY"
        ticker = _pick(rng, owned) if side == "SELL" else _pick(rng, tickers)
        bar = bars[ticker][date]
        price = bar["low"] + int(rng.random() * (bar["high"] - bar["low"] + 1))
        qty = 10 * (1 + int(rng.random() * 30))
        if side == "SELL":
            qty = min(qty, held[account][ticker])
        trade = {
            "trade_id": f"T{i:05d}", "account": account, "ticker": ticker, "side": side,
            "quantity": qty, "price": f"{price // 100}.{price % 100:02d}", "trade_date": date,
        }
        if rng.random() < error_rate * len(FIELD_ERRORS):
            _inject(trade, _pick(rng, FIELD_ERRORS), bar, held[account], rng)
        if trade["side"] in ("BUY", "SELL", "SHORT"):
            sign = 1 if trade["side"] == "BUY" else -1
            held[account][trade["ticker"]] = held[account].get(trade["ticker"], 0) + sign * trade["quantity"]
        trades.append(trade)
    return {
        "accounts": [{"account": a, "cash_cents": cash[a], "positions": positions[a]} for a in accounts],
        "trades": trades,
    }


def _inject(trade: dict[str, Any], kind: str, bar: dict[str, int], held: dict[str, int], rng: random.Random) -> None:
    """Corrupt one field the way real trade books go wrong."""
    if kind == "unknown_ticker":
        trade["ticker"] = "ZZQX"
    elif kind == "price_out_of_range":
        p = bar["high"] * 108 // 100 + 1
        trade["price"] = f"{p // 100}.{p % 100:02d}"
    elif kind == "bad_price_format":
        trade["price"] = _pick(rng, [trade["price"][:-1], trade["price"] + "5", "1," + trade["price"], "N/A"])
    elif kind == "bad_side":
        trade["side"] = _pick(rng, ["B", "S", "buy", "CROSS"])
    elif kind == "oversell":
        trade["side"] = "SELL"
        trade["quantity"] = max(held.get(trade["ticker"], 0), 0) + 10 * (1 + int(rng.random() * 20))
    elif kind == "weekend_date":
        trade["trade_date"] = _pick(rng, ["2024-03-09", "2024-03-10", "2024-03-16", "2024-03-23"])
    elif kind == "future_date":
        trade["trade_date"] = "2024-04-02"
    elif kind == "huge_quantity":
        trade["quantity"] = bar["volume"] // 50
    elif kind == "zero_quantity":
        trade["quantity"] = 0


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: args is the execution input; returns the portfolio."""
    portfolio = generate(
        seed=int(args.get("seed", 2021)),
        n_trades=int(args.get("trades", 400)),
        n_accounts=int(args.get("accounts", 8)),
        as_of=str(args.get("as_of", "2024-03-28")),
        error_rate=float(args.get("error_rate", 0.005)),
    )
    portfolio["portfolio_id"] = str(args.get("portfolio_id", "FINRA-DEMO"))
    portfolio["as_of"] = str(args.get("as_of", "2024-03-28"))
    return portfolio
