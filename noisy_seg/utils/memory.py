"""A process's memory, for the benchmark scripts: its peak resident memory, and resident memory now with the peak
reset (so that the next peak is a step's own). Standard library only: a benchmark worker that measures numpy code
need not import torch or detectron2.
"""

from __future__ import annotations

import resource

__all__ = ["loaded_mib", "peak_mib"]


def peak_mib() -> float:
    """The process's peak resident memory so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def loaded_mib() -> float:
    """Resident memory now, with the high-water mark reset to it (Linux: /proc/self/clear_refs 5), so that the peak
    measured next is the method's own and not the loading's."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # not Linux: the peak so far
        return peak_mib()
