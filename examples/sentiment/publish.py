"""Sentiment last step: the JSON summary the workflow returns.

Why a function: the state still holds the reviews' text and all scores; the
caller wants a small report with the decision and the extremes.
"""
from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: the whole state -> the report."""
    ranked = sorted(event["scores"], key=lambda s: (s["compound"], s["review_id"]))
    return {
        "run_id": event["run_id"],
        "product": event["product"],
        **event["summary"],
        "decision": event["decision"]["status"],
        "reason": event["decision"]["reason"],
        "most_negative": [s["review_id"] for s in ranked[:3]],
        "most_positive": [s["review_id"] for s in ranked[::-1][:3]],
        "stored": event["stored"],
    }
