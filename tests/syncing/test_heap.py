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


@pytest.fixture
def unfrozen():
    import gc

    gc.unfreeze()
    yield
    gc.unfreeze()


def test_gunicorn_workers_load_the_urls_and_freeze_them(unfrozen):
    """gunicorn.conf.py's post_worker_init: the URL table is loaded and what is loaded
    leaves the collector's walk (a full collection then skips ~130,000 objects)."""
    import gc
    import logging
    import runpy
    from types import SimpleNamespace

    from tests.support.worker import ROOT

    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    hooks["post_worker_init"](SimpleNamespace(log=logging.getLogger("test")))
    assert gc.get_freeze_count() > 50_000
    from config import urls

    assert urls.urlpatterns  # loaded by the hook (it would be at the first request)


def test_celery_pool_processes_freeze_what_they_loaded(unfrozen):
    import gc

    from celery.signals import worker_process_init

    assert gc.get_freeze_count() == 0
    worker_process_init.send(sender=None)
    assert gc.get_freeze_count() > 50_000
