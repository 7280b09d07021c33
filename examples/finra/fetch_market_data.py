"""FINRA step 2: fetch the market data the audit compares trades against.

Why local: the paper's app downloads quotes; here a bundled CSV of daily bars
(generated once by generate.py, committed) stands in, so runs are offline and
deterministic. Only the portfolio's tickers are returned: the result is a plain
dict (ticker -> date -> bar) that every audit branch then reads in place.
"""
from __future__ import annotations

from typing import Any

from finra_data import load_bars


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: args holds the portfolio; returns bars and the calendar."""
    wanted = {t["ticker"] for t in args["portfolio"]["trades"]}
    wanted.update(p for a in args["portfolio"]["accounts"] for p in a["positions"])
    bars = load_bars()
    calendar = sorted({d for days in bars.values() for d in days})
    return {
        "source": "market_data.csv",
        "calendar": calendar,
        "bars": {t: bars[t] for t in sorted(wanted) if t in bars},
    }
