"""Healthcare step 4: population analytics on de-identified records only.

Why after de-identification: analytics is the step a research team owns; it
should never see identifiers, and here it cannot (its input has none). Counts
are of distinct pseudonymous patients, from a small bundled vocabulary of
conditions and medications with synonyms; a mention preceded in its sentence by
a negation cue ("denies", "no history of", ...) does not count.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def _load_vocabulary() -> dict[str, Any]:
    with open(os.path.join(HERE, "vocabulary.json")) as f:
        return json.load(f)


VOCAB = _load_vocabulary()  # loaded once per process


def mentions(text: str, terms: dict[str, list[str]], negations: list[str]) -> set[str]:
    """Canonical terms asserted (not negated) in the text."""
    lower = text.lower()
    found = set()
    for canonical, forms in terms.items():
        for form in forms:
            for m in re.finditer(rf"(?<![\w-]){re.escape(form)}(?![\w-])", lower):
                sentence = lower[: m.start()].rsplit(".", 1)[-1]
                if not any(re.search(rf"\b{re.escape(cue)}\b", sentence) for cue in negations):
                    found.add(canonical)
    return found


def count_patients(per_patient: dict[str, set[str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for terms in per_patient.values():
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: {"study", "records"} -> the study summary (JSON)."""
    records = event["records"]
    conditions: dict[str, set[str]] = {}
    medications: dict[str, set[str]] = {}
    ages: dict[str, str] = {}
    phi: dict[str, int] = {}
    for r in records:
        conditions.setdefault(r["patient"], set()).update(mentions(r["text"], VOCAB["conditions"], VOCAB["negations"]))
        medications.setdefault(r["patient"], set()).update(mentions(r["text"], VOCAB["medications"], VOCAB["negations"]))
        ages[r["patient"]] = r["age_bucket"]  # the same for all of a patient's notes unless a birthday crosses a bucket
        for kind, n in r["phi"].items():
            phi[kind] = phi.get(kind, 0) + n
    buckets: dict[str, int] = {}
    for bucket in ages.values():
        buckets[bucket] = buckets.get(bucket, 0) + 1
    return {
        "study": event.get("study", ""),
        "notes": len(records),
        "patients": len(ages),
        "phi_masked": dict(sorted(phi.items())),
        "residual_phi": sum(r["residual_phi"] for r in records),
        "age_buckets": dict(sorted(buckets.items())),
        "conditions": count_patients(conditions),
        "medications": count_patients(medications),
        "records": [{k: r[k] for k in ("note_id", "patient", "visit_year", "age_bucket", "text")} for r in records],
    }
