#!/usr/bin/env python3
"""Write the FINRA app's generated files: market data, workflows, benchmark variants.

Why generated: the market CSV must be deterministic and small, and the
benchmark variants (examples/finra-5, -50, -100, -200) differ only in how many
audit branches their Parallel state has, so one script keeps them in step.
Each variant is self-contained (functions and data copied, not linked), so
`faastlane run examples/finra-200` works from a fresh checkout.

Usage: python3 examples/finra/generate.py [--market]   (--market rewrites market_data.csv)
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent
RULES = ["rule_market_consistency", "rule_price_format", "rule_side", "rule_trade_date", "rule_volume"]
VARIANTS = [5, 50, 100, 200]
TICKERS = [
    "ACME", "BOLT", "CRUX", "DYNO", "EMBR", "FJRD", "GLYF", "HALO", "IONX", "JOLT",
    "KITE", "LUMA", "MOXI", "NOVA", "ORCA", "PIXL", "QUIL", "RIVT", "SOLR", "TUNDR",
    "UMBR", "VANT", "WISP", "XENO", "YARO", "ZEPH", "AXON", "BRIO", "CYAN", "DUNE",
]
HOLIDAYS = {"2024-03-29"}  # Good Friday: US markets closed
LAMBDA = "arn:aws:lambda:us-east-1:111111111111:function:"


def trading_days(start: dt.date, end: dt.date) -> list[str]:
    days, d = [], start
    while d <= end:
        if d.weekday() < 5 and d.isoformat() not in HOLIDAYS:
            days.append(d.isoformat())
        d += dt.timedelta(days=1)
    return days


def write_market(path: Path) -> None:
    """Daily bars for March 2024: a seeded random walk per ticker."""
    rng = random.Random(4210)
    days = trading_days(dt.date(2024, 3, 1), dt.date(2024, 3, 29))
    rows = []
    for ticker in TICKERS:
        price = 5 + rng.random() * 295
        for day in days:
            open_ = price
            price = max(1.0, price * (1 + (rng.random() - 0.5) * 0.06))
            high = max(open_, price) * (1 + rng.random() * 0.02)
            low = min(open_, price) * (1 - rng.random() * 0.02)
            volume = 100_000 + int(rng.random() * 4_900_000)
            rows.append([day, ticker, f"{open_:.2f}", f"{high:.2f}", f"{low:.2f}", f"{price:.2f}", volume])
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["date", "ticker", "open", "high", "low", "close", "volume"])
        w.writerows(sorted(rows))


def workflow(branches: int) -> dict:
    """Fetch portfolio, fetch market data, fan out `branches` audit tasks, join."""
    parts = branches // len(RULES)
    fan_out = []
    for part in range(parts):
        for rule in RULES:
            name = f"{rule[5:]} {part + 1}/{parts}"
            fan_out.append({"StartAt": name, "States": {name: {
                "Type": "Task",
                "Resource": LAMBDA + rule,
                "Parameters": {
                    "portfolio.$": "$.portfolio", "market.$": "$.market", "work.$": "$.work",
                    "partition": part, "partitions": parts,
                },
                "End": True,
            }}})
    return {
        "Comment": f"FINRA trade audit: {len(RULES)} rules x {parts} account partition(s) in parallel, then margin.",
        "StartAt": "FetchPortfolio",
        "States": {
            "FetchPortfolio": {
                "Type": "Task", "Resource": "fetch_portfolio", "ResultPath": "$.portfolio", "Next": "FetchMarketData",
            },
            "FetchMarketData": {
                "Type": "Task", "Resource": "fetch_market_data", "ResultPath": "$.market", "Next": "Audit",
            },
            "Audit": {"Type": "Parallel", "Branches": fan_out, "ResultPath": "$.audit", "Next": "MarginBalance"},
            "MarginBalance": {"Type": "Task", "Resource": LAMBDA + "margin_balance", "End": True},
        },
    }


def bless(directory: Path) -> None:
    """Run the workflow with faastlane (from the repository root) and record its output."""
    out = subprocess.run(
        ["cargo", "run", "--release", "-q", "--", "run", str(directory), "--input", str(directory / "input.json")],
        check=True, capture_output=True, text=True, cwd=EXAMPLES.parent,
    ).stdout
    (directory / "expected.json").write_text(json.dumps(json.loads(out), indent=2) + "\n")


def main() -> None:
    if "--market" in sys.argv or not (HERE / "market_data.csv").exists():
        write_market(HERE / "market_data.csv")
    (HERE / "workflow.json").write_text(json.dumps(workflow(len(RULES)), indent=2) + "\n")
    bless(HERE)
    shipped = [p for p in HERE.iterdir() if p.suffix == ".py" and p.name not in ("generate.py", "test_functions.py")]
    for n in VARIANTS:
        target = EXAMPLES / f"finra-{n}"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir()
        # The functions and data are ../finra's own files, linked, not copied.
        for p in shipped + [HERE / "market_data.csv"]:
            (target / p.name).symlink_to(Path("..") / "finra" / p.name)
        shutil.copy2(HERE / "input.json", target / "input.json")
        (target / "workflow.json").write_text(json.dumps(workflow(n), indent=2) + "\n")
        (target / "README.md").write_text(
            f"# finra-{n}\n\nGenerated by `examples/finra/generate.py`: the FINRA audit of `../finra` with "
            f"{n} audit branches ({len(RULES)} rules x {n // len(RULES)} account partitions). "
            "Do not edit; change `../finra` and regenerate. The report equals `../finra`'s except "
            "`rule_results` (the branch count).\n"
        )
        bless(target)
        print(f"wrote {target.relative_to(EXAMPLES.parent)}")


if __name__ == "__main__":
    main()
