"""Reader process of tests/embed/test_rate_state.py: reads a rate state block in
a tight loop for a while and checks every snapshot for consistency.

    python rate_state_check.py NAME START_NS PERIOD_NS SECONDS

Each snapshot must satisfy the invariants one write establishes across both
cache lines (a torn read would mix two writes): the last deadline and the next
one lie on the grid START_NS + k * PERIOD_NS, the last deadline's index is
tick_index, the next one's is ticks + missed, and nothing moves backwards.
Prints a JSON summary; exit status 1 on the first inconsistent snapshot.
"""

import json
import sys
import time

from superinstance.realtime_core import RateState


def check(s, start, period):
    if s.sequence % 2:
        return "odd sequence"
    if s.ticks == 0:
        return None
    if s.last_deadline_ns != start + s.tick_index * period:
        return "last deadline off the grid index"
    if s.next_emission_ns != start + (s.ticks + s.missed) * period:
        return "next deadline does not follow ticks + missed"
    if not s.last_deadline_ns < s.next_emission_ns:
        return "next deadline not after the last"
    if s.lateness_max_ns < s.lateness_p99_ns - s.lateness_p99_ns // 100 - 1:
        return "p99 above max"
    return None


def main():
    name, start, period, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    state = RateState.attach(name)
    reads = changes = 0
    prev = None
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            s = state.read()
            reads += 1
            why = check(s, start, period)
            if why is None and prev is not None and (s.sequence < prev.sequence or s.ticks < prev.ticks):
                why = "went backwards"
            if why is not None:
                print(json.dumps({"error": why, "snapshot": repr(s)}))
                return 1
            if prev is not None and s.sequence != prev.sequence:
                changes += 1
            prev = s
    print(json.dumps({"reads": reads, "changes": changes, "ticks": prev.ticks, "state": prev.state}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
