"""The errors the fetcher raises: SyncError subclasses the engine records and reschedules."""

from __future__ import annotations

from typing import Any

from syncing.results import PermanentSyncError, SyncError, TransientSyncError


class FetchError(SyncError):
    """Base of the fetcher's errors; ``url`` is the safe form (no query, no credentials)."""

    def __init__(
        self, reason: str, message: str = "", *, url: str = "", retries: int = 0, **kwargs: Any
    ) -> None:
        super().__init__(reason, message, **kwargs)
        self.url = url
        self.retries = retries


class TransientFetchError(FetchError, TransientSyncError):
    """Might work next time: timeout, deadline, connection, rate_limited, 408/429/5xx."""


class PermanentFetchError(FetchError, PermanentSyncError):
    """Will not work until someone changes something: bad_url, blocked_address, 4xx,
    too_large, too_many_redirects."""
