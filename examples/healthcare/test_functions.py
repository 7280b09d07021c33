#!/usr/bin/env python3
"""Unit checks of the healthcare functions: `python3 test_functions.py` (standard library only).

Why these: PHI detection must find every kind it claims (and not flag ages under
90), masking must keep offsets right, pseudonyms must be stable per patient and
depend on the key, and analytics must honour negation.
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import analytics  # noqa: E402
import deidentify  # noqa: E402
import detect_phi  # noqa: E402
import mask  # noqa: E402

SAMPLE = (
    "Orla Fenwick, a 91-year-old, MRN: 1234567, seen 03/04/2024 and on March 5, 2024 (also 2024-03-06). "
    "Call (555) 010-2030 or 555.010.4050, mail orla@example.org, SSN 901-23-4567. "
    "Lives at 12 Quiet Harbor Lane, Sometown, ME 04001. Dr. Halvorsen saw her; her son, aged 45, came too."
)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s["type"], s["text"]) for s in detect_phi.detect(text)]


def test_detects_every_kind() -> None:
    found = kinds(SAMPLE)
    for expected in [
        ("NAME", "Orla Fenwick"), ("AGE", "91"), ("MRN", "1234567"), ("DATE", "03/04/2024"),
        ("DATE", "March 5, 2024"), ("DATE", "2024-03-06"), ("PHONE", "(555) 010-2030"),
        ("PHONE", "555.010.4050"), ("EMAIL", "orla@example.org"), ("SSN", "901-23-4567"),
        ("ADDRESS", "12 Quiet Harbor Lane, Sometown, ME 04001"), ("NAME", "Halvorsen"),
    ]:
        assert expected in found, expected
    assert ("AGE", "45") not in found  # ages up to 89 are not PHI
    assert len(found) == 12, found


def test_clean_text_has_no_phi() -> None:
    assert kinds("Patient with hypertension on lisinopril 20 mg, BP 148/92, follow up in May.") == []


def test_mask_replaces_spans_by_type() -> None:
    text = "Orla Fenwick called 555-0142 on 01/08/2024."
    assert mask.mask_text(text, detect_phi.detect(text)) == "[NAME] called [PHONE] on [DATE]."
    out = mask.handler({"notes": [{"note_id": "x", "text": text, "spans": detect_phi.detect(text)}]}, None)
    assert "spans" not in out["notes"][0] and out["notes"][0]["phi"] == {"DATE": 1, "NAME": 1, "PHONE": 1}


def test_pseudonyms_are_stable_and_keyed() -> None:
    a = deidentify.pseudonym("k1", "00482913")
    assert a == deidentify.pseudonym("k1", "00482913") and a.startswith("PT-") and len(a) == 13
    assert a != deidentify.pseudonym("k2", "00482913") != deidentify.pseudonym("k1", "00482914")


def test_age_buckets() -> None:
    assert deidentify.age_bucket("1934-03-10", "2024-03-09") == "65-89"  # 89, birthday tomorrow
    assert deidentify.age_bucket("1934-03-10", "2024-03-10") == "90+"
    assert deidentify.age_bucket("2010-01-01", "2024-01-01") == "0-17"


def test_deidentify_drops_identifiers_and_scrubs_leftovers() -> None:
    note = {"note_id": "N", "mrn": "00482913", "patient": "Zed Unlisted", "dob": "1950-01-01",
            "visit_date": "2024-02-03", "text": "Zed Unlisted, chart 00482913.", "phi": {}}
    out = deidentify.handler({"notes": [note], "key": "k", "study": "S"}, None)["records"][0]
    assert out["text"] == "[NAME] [NAME], chart [MRN]." and out["residual_phi"] == 3
    assert not {"mrn", "dob", "visit_date"} & out.keys() and out["patient"].startswith("PT-")


def test_analytics_honours_negation_and_synonyms() -> None:
    v = analytics.VOCAB
    assert analytics.mentions("HTN and AFib. Denies asthma.", v["conditions"], v["negations"]) == {
        "hypertension", "atrial fibrillation"}
    assert analytics.mentions("No history of COPD", v["conditions"], v["negations"]) == set()


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_"):
            fn()
            print("ok", name)
