"""What a process holds, read from /proc (Linux): for create/close cycle tests that check
every object returns its descriptors, threads, mappings and locked memory."""

import os


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def os_threads() -> int:
    """Native threads, including those Python's threading module does not know."""
    return len(os.listdir("/proc/self/task"))


def memory_maps() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


def locked_memory_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    return 0
