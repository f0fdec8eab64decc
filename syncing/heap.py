"""Handing a process's freed C-heap memory back to the system, for work that frees
megabytes at once (a big feed's import): glibc's ``malloc_trim``, a no-op elsewhere."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# glibc's mallopt parameter, and the threshold glibc starts with (its MALLOC_MMAP_THRESHOLD_).
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 128 * 1024


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (another C library, or none found). Found, it also
    keeps glibc's mmap threshold where glibc starts it, once per process (see
    ``release_freed_memory``)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim, mallopt = libc.malloc_trim, libc.mallopt
    except (OSError, AttributeError):
        return None
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
    return trim


def release_freed_memory() -> None:
    """Hand the free pages of the C heap back to the system (glibc's ``malloc_trim(0)``; a
    no-op elsewhere). A big import frees megabytes there between its phases (the fetch's
    reads, the body, the text, a batch's rows) that glibc keeps and a later phase, or the
    next import, cannot always reuse. The first call also fixes glibc's mmap threshold at
    its initial 128 KiB (as MALLOC_MMAP_THRESHOLD_=131072 would): glibc otherwise raises it
    to the size of the first large block freed (a 3 MB body), and every later body and
    text below that size comes from the heap, where its pages stay after it is freed.
    A dense 10,000-event feed imported a second time peaked ~2-4 MB higher without either.
    Costs a walk of the heap: calendars calls it only in imports of bodies over a megabyte
    (calendars.services.feed_sync.RELEASE_BODY_BYTES)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def freeze_loaded_objects() -> int:
    """Move every object alive now out of the cyclic garbage collector's generations
    (``gc.freeze``), once a process has loaded what it keeps for its life (settings, models,
    the URL table, views, serializers, task modules): a full collection then walks only
    what requests and tasks leave behind. A Django process holds ~130,000 such objects,
    and each full collection over them took 80-230 ms of a request or a task (measured
    in a web worker on this 2-core box) and lands in the p99; frozen, ~0. Frozen objects
    are never collected, so call it only after loading, never per request. Returns how
    many objects are frozen."""
    import gc

    gc.collect()  # what loading left as garbage goes first, not into the frozen set
    gc.freeze()
    return gc.get_freeze_count()
