from __future__ import annotations

from market.kinds import PRODUCT_KIND
from syncing.kinds import get_kind
from syncing.models import SyncAttempt
from syncing.services.claims import claim_one
from syncing.services.runs import run_claimed


def sync(product) -> SyncAttempt:
    """Run one product's sync inline through the engine (claim, run, record)."""
    claim = claim_one(get_kind(PRODUCT_KIND), product.pk, force=True)
    assert claim.pks, "the product is leased"
    report = run_claimed(PRODUCT_KIND, claim.token, claim.pks)
    product.refresh_from_db()
    return report.attempts[0]
