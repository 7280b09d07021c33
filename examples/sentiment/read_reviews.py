"""Sentiment step 1: read one product's reviews from the bundled CSV.

Why it also fills defaults: ASL has no default values, and later states read
`$.threshold`, `$.db` and `$.run_id` with paths (a missing path is a runtime
error), so this first step returns a complete state.
"""
from __future__ import annotations

import csv
import os
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DB = "/tmp/faastlane-sentiment.db"


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {product, run_id?, db?, threshold?, csv?} -> state with reviews."""
    product = str(args["product"])
    name = os.path.basename(args.get("csv", "reviews.csv"))
    with open(os.path.join(HERE, name), newline="") as f:
        reviews = [
            {"review_id": r["review_id"], "rating": int(r["rating"]), "text": r["text"]}
            for r in csv.DictReader(f)
            if r["product"] == product
        ]
    return {
        "run_id": str(args.get("run_id", f"run-{product}")),
        "product": product,
        "db": str(args.get("db", DEFAULT_DB)),
        "threshold": float(args.get("threshold", 0.3)),
        "reviews": reviews,
    }
