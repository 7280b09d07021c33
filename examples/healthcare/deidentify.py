"""Healthcare step 3: de-identify: pseudonymous patient ids, no direct identifiers.

Why a keyed hash: the same patient must get the same pseudonym in every note
(and every run with the same key) so analytics can count patients, yet without
the key nobody can recompute a pseudonym from an MRN. HMAC-SHA256 gives both.
Following HIPAA Safe Harbor, dates shrink to the year and ages over 89 collapse
into one bucket. As a safety net, any remaining occurrence of the patient's own
name or MRN in the masked text (a dictionary miss) is masked too and counted.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from typing import Any

BUCKETS = [(17, "0-17"), (44, "18-44"), (64, "45-64"), (89, "65-89")]


def pseudonym(key: str, mrn: str) -> str:
    """A stable, key-dependent patient id: 'PT-' + 10 hex digits of HMAC-SHA256(key, mrn)."""
    return "PT-" + hmac.new(key.encode(), mrn.encode(), hashlib.sha256).hexdigest()[:10].upper()


def age_bucket(dob: str, on: str) -> str:
    """Age on the visit date, bucketed; everyone over 89 is '90+' (Safe Harbor)."""
    born, day = dt.date.fromisoformat(dob), dt.date.fromisoformat(on)
    age = day.year - born.year - ((day.month, day.day) < (born.month, born.day))
    return next((label for limit, label in BUCKETS if age <= limit), "90+")


def scrub_residual(text: str, note: dict[str, Any]) -> tuple[str, int]:
    """Mask leftovers of this note's own identifiers; return the text and how many."""
    total = 0
    for value, label in [(note["mrn"], "[MRN]")] + [(part, "[NAME]") for part in note["patient"].split()]:
        text, n = re.subn(rf"\b{re.escape(value)}\b", label, text, flags=re.I)
        total += n
    return text, total


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: {"notes": masked notes, "key": str, "study": str} -> {"study", "records"}."""
    key = event["key"]
    records = []
    for note in event["notes"]:
        text, residual = scrub_residual(note["text"], note)
        records.append({
            "note_id": note["note_id"],
            "patient": pseudonym(key, note["mrn"]),
            "visit_year": int(note["visit_date"][:4]),
            "age_bucket": age_bucket(note["dob"], note["visit_date"]),
            "text": text,
            "phi": note["phi"],
            "residual_phi": residual,
        })
    return {"study": event.get("study", ""), "records": records}
