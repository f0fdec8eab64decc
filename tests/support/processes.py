"""Child processes that do not outlive the test run.

A test's ``finally`` stops what it started, but nothing runs when pytest itself is killed
(a CI timeout, a developer's kill -9): a ``bin/run`` stack or a Celery worker started by the
suite would then run on, orphaned, holding ports and taking messages. ``die_with_parent`` asks
Linux to send the child SIGTERM when the process that started it dies (prctl
PR_SET_PDEATHSIG); elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for subprocess.Popen: SIGTERM this child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
