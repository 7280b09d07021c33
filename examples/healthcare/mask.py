"""Healthcare step 2: replace every detected PHI span in the note text with its type.

Why a separate step: masking only needs the spans, so detection can be swapped
(or run on another lane) without touching this code. The original text and the
spans, which quote the PHI, are dropped here; what flows on is the masked text
plus per-type counts. The structured identifiers (MRN, name, birth date) are
still present: removing those is `deidentify`'s job.
"""
from __future__ import annotations

from typing import Any


def mask_text(text: str, spans: list[dict[str, Any]]) -> str:
    """Replace spans back to front, so earlier offsets stay valid."""
    for span in sorted(spans, key=lambda s: s["start"], reverse=True):
        text = text[: span["start"]] + f"[{span['type']}]" + text[span["end"]:]
    return text


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: {"notes": [note with text and spans]} -> masked notes."""
    masked = []
    for note in event["notes"]:
        counts: dict[str, int] = {}
        for span in note["spans"]:
            counts[span["type"]] = counts.get(span["type"], 0) + 1
        kept = {k: v for k, v in note.items() if k not in ("text", "spans")}
        masked.append({**kept, "text": mask_text(note["text"], note["spans"]), "phi": dict(sorted(counts.items()))})
    return {"notes": masked}
