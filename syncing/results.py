"""What a kind's sync function receives and returns, and the errors it may raise."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from syncing.kinds import Kind
    from syncing.models import SyncedItem


class SyncError(Exception):
    """A sync failed. ``reason`` is a short machine word (``http_404``, ``invalid_ics``)."""

    permanent = False

    def __init__(
        self,
        reason: str,
        message: str = "",
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
        bytes_read: int = 0,
    ) -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason
        self.http_status = http_status
        self.retry_after = retry_after
        self.bytes_read = bytes_read


class TransientSyncError(SyncError):
    """Might work on the next try: timeout, connection error, 429, 5xx."""

    permanent = False


class PermanentSyncError(SyncError):
    """Will not work until somebody changes something: 404, 410, content we cannot read."""

    permanent = True


@dataclass
class SyncResult:
    """What a sync function returns on success (failures are raised as SyncError)."""

    outcome: str = "ok"  # ok | not_modified | skipped
    reason: str = ""
    message: str = ""
    http_status: int | None = None
    bytes: int = 0
    items_changed: int = 0
    retries: int = 0
    counts: dict = field(default_factory=dict)
    # When set, the next due time instead of the tier's phase rule (alarms: next ring - lead).
    next_sync_at: datetime | None = None


@dataclass
class SyncContext:
    """Passed to a sync function: the kind, the claim, and the validators to update."""

    kind: Kind
    item: SyncedItem
    attempt_retries: int = 0
    # A sync function sets these from the fetch result; the engine saves them on success.
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None

    def remember_validators(self, *, etag=None, last_modified=None, content_hash=None) -> None:
        if etag is not None:
            self.etag = etag
        if last_modified is not None:
            self.last_modified = last_modified
        if content_hash is not None:
            self.content_hash = content_hash
