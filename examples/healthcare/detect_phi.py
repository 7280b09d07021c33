"""Healthcare step 1: find protected health information (PHI) in clinical notes.

Why rules and a dictionary: the paper's app calls a cloud PHI service; this one
must run offline and deterministically, so it finds the HIPAA Safe Harbor
identifiers that have a shape (dates, phones, emails, SSN/MRN numbers, street
addresses, ages over 89) with regular expressions, and names with a bundled
dictionary of first and last names. Each hit is a span with character offsets,
so later steps can mask without re-detecting.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))

_MONTH = (r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
          r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)")
_STREET = r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Boulevard|Blvd|Court|Ct|Way|Place|Pl)"
# (type, pattern, group holding the identifier); order matters only for equal spans
PATTERNS: list[tuple[str, re.Pattern[str], int]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"), 0),
    ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b"), 0),
    ("MRN", re.compile(r"\b(?:MRN|medical record number)[:#]?\s*(\d{6,10})\b", re.I), 1),
    ("PHONE", re.compile(r"(?:\(\d{3}\)\s?|\b\d{3}[-.])?\b\d{3}[-.]\d{4}\b"), 0),
    ("DATE", re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b|\b\d{4}-\d{2}-\d{2}\b"), 0),
    ("DATE", re.compile(rf"\b{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?, \d{{4}}\b"), 0),
    ("ADDRESS", re.compile(
        rf"\b\d{{1,5}} (?:[A-Z][a-z]+ ){{1,3}}{_STREET}\b"
        r"(?:,\s*(?:Apt|Unit|Suite)\.?\s*\w+)?"
        r"(?:,\s*[A-Z][a-z]+(?: [A-Z][a-z]+)*,\s*[A-Z]{2} \d{5})?"), 0),
]
AGE_PATTERNS = [
    re.compile(r"\b(\d{2,3})[- ]?(?:years?|yrs?)[- ]old\b", re.I),
    re.compile(r"\bage[d]?\s+(\d{2,3})\b", re.I),
    re.compile(r"\b(\d{2,3})\s?(?:yo|y/o)\b", re.I),
]
_WORD = re.compile(r"\b[A-Z][a-z]+(?:-[A-Z][a-z]+)?\b")


def _load_names() -> frozenset[str]:
    with open(os.path.join(HERE, "names.json")) as f:
        names = json.load(f)
    return frozenset(names["first"]) | frozenset(names["last"])


NAMES = _load_names()  # loaded once per process


def find_names(text: str) -> list[tuple[int, int]]:
    """Capitalised dictionary words; neighbours separated by one space form one name."""
    spans: list[tuple[int, int]] = []
    for m in _WORD.finditer(text):
        if m.group() not in NAMES:
            continue
        if spans and text[spans[-1][1]:m.start()] == " ":
            spans[-1] = (spans[-1][0], m.end())
        else:
            spans.append((m.start(), m.end()))
    return spans


def detect(text: str) -> list[dict[str, Any]]:
    """All PHI spans of one note, sorted, overlaps resolved in favour of the longer span."""
    found = [(m.start(g), m.end(g), kind) for kind, rx, g in PATTERNS for m in rx.finditer(text)]
    for rx in AGE_PATTERNS:
        found += [(m.start(1), m.end(1), "AGE") for m in rx.finditer(text) if int(m.group(1)) > 89]
    found += [(s, e, "NAME") for s, e in find_names(text)]
    spans: list[dict[str, Any]] = []
    for start, end, kind in sorted(found, key=lambda f: (f[0], -(f[1] - f[0]))):
        if spans and start < spans[-1]["end"]:
            continue  # inside an earlier, longer span
        spans.append({"type": kind, "start": start, "end": end, "text": text[start:end]})
    return spans


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Lambda-style entry: event["notes_file"] names the bundled notes; returns notes with spans."""
    name = os.path.basename(event.get("notes_file", "notes.json"))
    with open(os.path.join(HERE, name)) as f:
        notes = json.load(f)["notes"]
    return {"notes": [{**note, "spans": detect(note["text"])} for note in notes]}
