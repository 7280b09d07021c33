#!/usr/bin/env python3
"""Unit checks of the sentiment functions: `python3 test_functions.py` with requirements.txt installed.

Why these: the CSV must split by product, VADER must be wired the right way round,
the aggregate feeds a Choice (its numbers must be exact), and the SQLite write
must be idempotent per run id.
"""
from __future__ import annotations

import os
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import aggregate  # noqa: E402
import approve_product  # noqa: E402
import flag_product  # noqa: E402
import read_reviews  # noqa: E402
import score_review  # noqa: E402
import write_results  # noqa: E402


def test_read_reviews_filters_and_fills_defaults() -> None:
    state = read_reviews.main({"product": "aurora-kettle"})
    assert len(state["reviews"]) == 25 and state["reviews"][0]["review_id"] == "R001"
    assert state["db"] == "/tmp/faastlane-sentiment.db" and state["threshold"] == 0.3
    assert state["run_id"] == "run-aurora-kettle"
    assert read_reviews.main({"product": "nope"})["reviews"] == []


def test_vader_scores_and_labels() -> None:
    def score(text: str) -> dict:
        return score_review.handler({"index": 7, "review": {"review_id": "x", "text": text}}, None)
    assert score("I love it, excellent!")["label"] == "positive"
    assert score("Terrible, broke in a day.")["label"] == "negative"
    assert score("It is a kettle.") == {"review_id": "x", "index": 7, "compound": 0.0, "label": "neutral"}
    assert score_review.label(0.05) == "positive" and score_review.label(-0.0499) == "neutral"


def test_aggregate_counts_and_shares() -> None:
    scores = [{"label": label, "compound": c} for label, c in
              [("positive", 0.5), ("negative", -0.5), ("negative", -0.2), ("neutral", 0.0)]]
    assert aggregate.handler({"scores": scores}, None) == {
        "reviews": 4, "positive": 1, "neutral": 1, "negative": 2, "negative_share": 0.5, "mean_compound": -0.05}
    assert aggregate.handler({"scores": []}, None)["negative_share"] == 0.0


def test_decisions_explain_themselves() -> None:
    summary = {"negative": 3, "reviews": 10, "negative_share": 0.3}
    assert flag_product.main({"summary": summary, "threshold": 0.2})["reason"] == "3 of 10 reviews negative (30% > 20%)"
    assert approve_product.main({"summary": summary, "threshold": 0.5})["status"] == "approved"


def test_write_results_replaces_rows_of_the_same_run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "sub", "s.db")  # the parent directory is created
        event = {
            "db": db, "run_id": "r1", "product": "p",
            "reviews": [{"review_id": "a", "rating": 5}, {"review_id": "b", "rating": 1}],
            "scores": [{"review_id": "a", "compound": 0.9, "label": "positive"},
                       {"review_id": "b", "compound": -0.9, "label": "negative"}],
            "decision": {"status": "approved"},
        }
        assert write_results.handler(event, None)["rows"] == 2
        assert write_results.handler(event, None)["rows"] == 2  # a rerun replaces, not appends
        assert write_results.handler({**event, "run_id": "r2", "scores": event["scores"][:1]}, None)["rows"] == 1
        con = sqlite3.connect(db)
        try:
            assert con.execute("SELECT COUNT(*) FROM review_sentiment").fetchone()[0] == 3
        finally:
            con.close()


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
