"""return_freed_arrays_promptly: a freed array goes back to the OS even after glibc would have raised its threshold."""

import subprocess
import sys

import pytest

PROGRAM = """
import sys
import numpy as np
from noisy_seg.utils.memory import return_freed_arrays_promptly

def resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20

if sys.argv[1] == "fixed":
    assert return_freed_arrays_promptly()
big = np.ones(2_000_000)  # 16 MB, mapped; freeing it raises glibc's threshold to 16 MB unless fixed
del big
base = resident_mib()
small_blocks = []
for _ in range(5):
    array = np.ones(1_000_000)  # 8 MB: from the heap once the threshold is raised
    array += 1
    small_blocks.append(np.ones(10))  # allocated after it, so the heap's top cannot be trimmed
    del array
print(resident_mib() - base)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and /proc are Linux's")
def test_a_freed_array_leaves_the_resident_memory():
    def retained(mode: str) -> float:
        done = subprocess.run([sys.executable, "-c", PROGRAM, mode], capture_output=True, text=True, check=True)
        return float(done.stdout.strip())

    assert retained("default") > 6.0  # glibc's dynamic threshold keeps the 8 MB array resident
    assert retained("fixed") < 1.0
