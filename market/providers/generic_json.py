"""A generic JSON price service anyone can point Syncbeat at.

``GET {base_url}/prices/{external_id}?region=US`` with ``x-api-key`` answers::

    {"currency": "USD",
     "prices": [{"size": "10", "lowest_ask": "180.00", "highest_bid": "150.00",
                 "last_sale": "170.00", "sales_72h": 12}]}

Amounts should be strings; JSON numbers are accepted and read as Decimal (never float).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from market.providers.base import (
    BaseProvider,
    PriceQuote,
    parse_amount,
    parse_count,
    parse_currency,
)
from syncing.results import PermanentSyncError

if TYPE_CHECKING:
    from market.models import ProviderLink


class GenericJSONProvider(BaseProvider):
    def fetch_prices(
        self, link: ProviderLink, regions: list[str], sizes: list[str] | None = None
    ) -> list[PriceQuote]:
        """One request per region. Raises the fetcher's errors or bad_payload."""
        external_id = quote(link.external_id or link.product.sku, safe="")
        quotes = []
        for region in regions:
            data = self.get_json(f"/prices/{external_id}", {"region": region})
            if not isinstance(data, dict) or not isinstance(data.get("prices"), list):
                raise PermanentSyncError("bad_payload", f"{self.name}: no prices list")
            currency = parse_currency(data.get("currency"), provider=self.name)
            for row in data["prices"]:
                if not isinstance(row, dict) or not row.get("size"):
                    raise PermanentSyncError("bad_payload", f"{self.name}: a price has no size")
                size = str(row["size"])[:16]
                if sizes and size not in sizes:
                    continue
                quotes.append(
                    PriceQuote(
                        provider=self.name,
                        region=region,
                        size=size,
                        currency=currency,
                        lowest_ask=parse_amount(
                            row.get("lowest_ask"), provider=self.name, what="lowest_ask"
                        ),
                        highest_bid=parse_amount(
                            row.get("highest_bid"), provider=self.name, what="highest_bid"
                        ),
                        last_sale=parse_amount(
                            row.get("last_sale"), provider=self.name, what="last_sale"
                        ),
                        sales_72h=parse_count(
                            row.get("sales_72h"), provider=self.name, what="sales_72h"
                        ),
                    )
                )
        return quotes
