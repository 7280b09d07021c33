"""Builds the state to hand off: `size` bytes, as one bytes object or as a list of records."""
import time

import timing


def handler(event, context):
    size = event["size"]
    if event.get("kind") == "records":
        # ~100 bytes per record, like rows of a table.
        n = max(1, size // 100)
        rows = [{"id": i, "name": f"item-{i:08d}", "price": i * 0.25, "tags": ["a", "b"]} for i in range(n)]
        state = {"rows": rows, "size": size}
    else:
        state = {"blob": b"x" * size, "size": size}
    timing.MADE_NS = time.perf_counter_ns()
    return state
