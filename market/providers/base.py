"""The one small interface every market-data provider client implements.

    provider = get_provider("stockx")
    quotes = provider.fetch_prices(link, regions=["US", "EU"])

A client goes out only through ``syncing.fetcher.fetch``, with its own rate limit under
``rate_key=<provider name>`` (shared by every worker), at most 3 tries per request
(``retries=2``). Amounts come back as Decimal with their currency, never floats.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from syncing.fetcher import FetchResult, fetch
from syncing.results import PermanentSyncError

if TYPE_CHECKING:
    from market.models import ProviderLink

CENT = Decimal("0.01")
# At most 3 tries per request in one run; longer waits become a rescheduled sync.
REQUEST_RETRIES = 2
REQUEST_DEADLINE_SECONDS = 15.0


@dataclass(frozen=True)
class PriceQuote:
    """One size's prices in one region from one provider."""

    provider: str
    region: str
    size: str
    currency: str
    lowest_ask: Decimal | None
    highest_bid: Decimal | None = None
    last_sale: Decimal | None = None
    sales_72h: int | None = None


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider: from settings.MARKET_PROVIDERS."""

    name: str
    client: str  # "stockx" | "generic_json"
    base_url: str
    api_key: str = ""
    token: str = ""
    rate_limit: str = "50/second"
    allow_loopback: bool = False
    options: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    name: str

    def fetch_prices(
        self, link: ProviderLink, regions: list[str], sizes: list[str] | None = None
    ) -> list[PriceQuote]:
        """Prices for ``link`` in every region; may fill ``link.variant_ids`` /
        ``link.external_id`` (the caller saves them). Raises SyncError subclasses."""
        ...


class BaseProvider:
    """Shared plumbing: the fetch call with this provider's headers and limits."""

    def __init__(self, config: ProviderConfig) -> None:
        self.config = config
        self.name = config.name

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        if self.config.token:
            headers["Authorization"] = f"Bearer {self.config.token}"
        return headers

    def get(self, path: str, params: dict[str, str] | None = None) -> FetchResult:
        """GET ``base_url + path`` through the fetcher; raises its errors."""
        return fetch(
            self.config.base_url.rstrip("/") + path,
            headers=self.headers(),
            params=params,
            rate_limit=self.config.rate_limit,
            rate_key=self.name,
            retries=REQUEST_RETRIES,
            deadline=REQUEST_DEADLINE_SECONDS,
            allow_loopback=self.config.allow_loopback,
        )

    def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The JSON body, numbers read as Decimal; PermanentSyncError(bad_payload) if not JSON."""
        result = self.get(path, params)
        try:
            return json.loads(result.body, parse_float=Decimal)
        except ValueError:
            raise PermanentSyncError(
                "bad_payload", f"{self.name}: the response is not JSON", http_status=result.status
            )


def parse_amount(value: Any, *, provider: str, what: str) -> Decimal | None:
    """A money amount from a provider: strings or Decimal (JSON numbers parsed as Decimal),
    to cents. None/"" -> None. Raises PermanentSyncError(bad_payload) on anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, (bool, float)):
        raise PermanentSyncError("bad_payload", f"{provider}: {what} is not an exact amount")
    try:
        amount = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise PermanentSyncError("bad_payload", f"{provider}: {what} {value!r} is not an amount")
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
        raise PermanentSyncError("bad_payload", f"{provider}: {what} {value!r} is out of range")
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN)


def parse_count(value: Any, *, provider: str, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise PermanentSyncError("bad_payload", f"{provider}: {what} {value!r} is not a count")
    return max(0, number)


def parse_currency(value: Any, *, provider: str) -> str:
    if not isinstance(value, str) or len(value) != 3 or not value.isalpha():
        raise PermanentSyncError("bad_payload", f"{provider}: currency {value!r} is not ISO 4217")
    return value.upper()
