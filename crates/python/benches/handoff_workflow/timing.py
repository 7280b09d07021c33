"""Timestamps shared by the hand-off benchmark's functions (one process, one clock)."""
MADE_NS = 0
RELAYED_NS = 0
RETURNED_NS = 0
ENTERED_NS = 0
