"""A process's memory: its peak resident memory, and resident memory now with the peak reset (so that the next peak is
a step's own), for the benchmark scripts; and `return_freed_arrays_promptly`, which the array-heavy steps of the tools
call. Standard library only: a benchmark worker that measures numpy code need not import torch or detectron2.
"""

from __future__ import annotations

import ctypes
import resource

__all__ = ["loaded_mib", "peak_mib", "return_freed_arrays_promptly"]

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
_MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value


def return_freed_arrays_promptly() -> bool:
    """Keep glibc's mmap threshold at its initial 128 KiB. glibc raises it to the size of each large block freed (up to
    32 MiB), after which arrays of that size come from the heap and stay resident when freed; fixed, every array
    above 128 KiB is mapped on its own and handed back to the OS when freed, so the transients of one step do not
    add to the resident memory of the next (benchmarks/bench_label_error_memory.py measures the label-error report
    with it). Linux glibc only; returns whether it applied."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):  # not glibc
        return False


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
