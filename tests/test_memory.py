"""runtime/memory.py: freed heap memory goes back to the operating system (the soak's RSS, bench/soak.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")

# A fresh interpreter: 40 MB of 4 KiB buffers (malloc'ed: above pymalloc's 512 bytes), all freed but the last
# one, which keeps the heap's top in use, so glibc cannot shrink the heap by itself.
FRAGMENTED_HEAP = textwrap.dedent("""
    import psutil
    from runtime.diagnostics import malloc_heap
    from runtime.memory import trim_free_heap

    buffers = [bytearray(4096) for _ in range(10_000)]
    for block in buffers:
        block[::512] = b"x" * 8  # touch every page so it is resident
    keep = buffers[-1]
    del buffers
    rss_before = psutil.Process().memory_info().rss
    free_before = malloc_heap()["free"]
    trim_free_heap()
    rss_after = psutil.Process().memory_info().rss
    print(free_before, rss_before, rss_after, len(keep))
""")


def test_trim_free_heap_returns_the_free_pages_below_a_block_in_use():
    out = subprocess.run([sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, timeout=60,
                         check=True).stdout.split()
    free_before, rss_before, rss_after = (int(value) for value in out[:3])
    assert free_before > 30 * 2**20, "the set-up did not leave a fragmented heap"
    assert rss_before - rss_after > 25 * 2**20, f"RSS {rss_before} -> {rss_after}: the free pages stayed resident"
