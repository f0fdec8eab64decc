"""syncing.heap: glibc's malloc_trim is found where glibc runs (a lookup that broke would
silently turn every big import's release into a no-op), and calling it is harmless."""

from __future__ import annotations

import platform

import pytest

from syncing import heap


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_malloc_trim_is_found_and_releases():
    assert heap._malloc_trim() is not None
    junk = [bytes(200_000) for _ in range(50)]  # 10 MB, above the 128 KiB mmap threshold
    del junk
    heap.release_freed_memory()
    heap.release_freed_memory()  # again: nothing left to hand back, still fine
