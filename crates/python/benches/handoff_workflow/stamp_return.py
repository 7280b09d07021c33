"""Passes the state on, stamping the moment it returns."""
import time

import timing


def handler(event, context):
    timing.RETURNED_NS = time.perf_counter_ns()
    return event
