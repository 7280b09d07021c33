"""Sentiment step 5: store one row per review in SQLite.

Why replace by run id: a workflow may be retried (Retry, or a client resubmitting
the same run); deleting the run's rows and inserting them again in one
transaction makes the write idempotent.
"""
from __future__ import annotations

import os
import sqlite3
from typing import Any

SCHEMA = """CREATE TABLE IF NOT EXISTS review_sentiment (
    run_id TEXT NOT NULL, review_id TEXT NOT NULL, product TEXT NOT NULL,
    rating INTEGER NOT NULL, compound REAL NOT NULL, label TEXT NOT NULL, decision TEXT NOT NULL,
    PRIMARY KEY (run_id, review_id))"""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: {db, run_id, product, reviews, scores, decision} -> {db, rows}."""
    path = event["db"]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    rating = {r["review_id"]: r["rating"] for r in event["reviews"]}
    rows = [
        (event["run_id"], s["review_id"], event["product"], rating[s["review_id"]],
         s["compound"], s["label"], event["decision"]["status"])
        for s in event["scores"]
    ]
    con = sqlite3.connect(path, timeout=30)
    try:
        with con:  # one transaction: commit on success, roll back on error
            con.execute(SCHEMA)
            con.execute("DELETE FROM review_sentiment WHERE run_id = ?", (event["run_id"],))
            con.executemany("INSERT INTO review_sentiment VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        stored = con.execute("SELECT COUNT(*) FROM review_sentiment WHERE run_id = ?", (event["run_id"],)).fetchone()[0]
    finally:
        con.close()
    return {"db": path, "table": "review_sentiment", "rows": stored}
