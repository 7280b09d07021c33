"""Sentiment branch: the product has too many negative reviews; flag it for review."""
from __future__ import annotations

from typing import Any


def main(args: dict[str, Any]) -> dict[str, Any]:
    """OpenWhisk-style entry: {product, summary, threshold} -> the decision."""
    s = args["summary"]
    return {
        "status": "flagged",
        "reason": f"{s['negative']} of {s['reviews']} reviews negative "
                  f"({s['negative_share']:.0%} > {args['threshold']:.0%})",
    }
