"""Sentiment step 2 (inside the Map): score one review with VADER.

Why a module-level analyzer: building SentimentIntensityAnalyzer parses its
7,500-word lexicon; doing it once per process (at import) instead of once per
review is exactly what running all Map iterations in one process buys.
Labels use VADER's published thresholds (compound >= 0.05 positive, <= -0.05 negative).
"""
from __future__ import annotations

from typing import Any

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ANALYZER = SentimentIntensityAnalyzer()


def label(compound: float) -> str:
    if compound >= 0.05:
        return "positive"
    if compound <= -0.05:
        return "negative"
    return "neutral"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: {"index": int, "review": {review_id, rating, text}} -> its score."""
    compound = round(ANALYZER.polarity_scores(event["review"]["text"])["compound"], 4)
    return {"review_id": event["review"]["review_id"], "index": event["index"],
            "compound": compound, "label": label(compound)}
