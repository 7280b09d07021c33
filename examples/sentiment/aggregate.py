"""Sentiment step 3: aggregate the per-review scores for the Choice state.

Why a function and not intrinsics: the share of negative reviews needs a count
and a division, which ASL's intrinsic functions cannot express.
"""
from __future__ import annotations

from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: {"scores": [...]} -> counts, negative share, mean compound."""
    scores = event["scores"]
    n = len(scores)
    counts = {k: sum(1 for s in scores if s["label"] == k) for k in ("positive", "neutral", "negative")}
    return {
        "reviews": n,
        **counts,
        "negative_share": round(counts["negative"] / n, 3) if n else 0.0,
        "mean_compound": round(sum(s["compound"] for s in scores) / n, 3) if n else 0.0,
    }
