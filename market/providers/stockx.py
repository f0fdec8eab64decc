"""StockX, shaped like its public developer API v2 (https://developer.stockx.com).

Base ``https://api.stockx.com/v2``; every request carries ``x-api-key`` and
``Authorization: Bearer <access token>``. Endpoints used:

- ``GET /catalog/search?query=<sku>`` -> ``{"products": [{"productId", "styleId",
  "title", "brand", "productAttributes": {"colorway", ...}}, ...]}``: resolves a SKU
  (StockX's ``styleId``) to its ``productId`` when the link has none yet;
- ``GET /catalog/products/{productId}/variants`` -> ``[{"variantId", "variantValue"
  (the size), ...}]``: the size of every variant, remembered on the link;
- ``GET /catalog/products/{productId}/market-data?currencyCode=USD&country=US`` ->
  ``[{"productId", "variantId", "currencyCode", "lowestAskAmount", "highestBidAmount",
  "sellFasterAmount", "earnMoreAmount", "flexLowestAskAmount"}, ...]``: one row per
  variant, amounts as strings. v2 market data carries no last sale or sales count.

Shapes as documented by StockX and as used by public clients (e.g. cyberoby/python-stockx,
``stockx/api/catalog.py`` and ``stockx/models/core.py::MarketData``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from market.models import REGION_CURRENCY
from market.providers.base import (
    BaseProvider,
    PriceQuote,
    parse_amount,
    parse_currency,
)
from syncing.results import PermanentSyncError

if TYPE_CHECKING:
    from market.models import ProviderLink

# Our regions -> StockX's ``country`` parameter (ISO 3166 alpha-2; "EU" as Germany).
REGION_COUNTRY = {"US": "US", "EU": "DE", "UK": "GB", "JP": "JP"}


class StockXProvider(BaseProvider):
    def fetch_prices(
        self, link: ProviderLink, regions: list[str], sizes: list[str] | None = None
    ) -> list[PriceQuote]:
        """One market-data request per region (plus a one-off SKU and variant lookup)."""
        if not link.external_id:
            link.external_id = self.resolve_product_id(link.product.sku)
        product_id = quote(link.external_id, safe="")
        if not link.variant_ids:
            link.variant_ids = self.variant_sizes(product_id)
        size_of = {variant: size for size, variant in link.variant_ids.items()}
        quotes = []
        for region in regions:
            currency = REGION_CURRENCY[region]
            rows = self.get_json(
                f"/catalog/products/{product_id}/market-data",
                {"currencyCode": currency, "country": REGION_COUNTRY[region]},
            )
            if not isinstance(rows, list):
                raise PermanentSyncError("bad_payload", f"{self.name}: market data is not a list")
            for row in rows:
                if not isinstance(row, dict):
                    raise PermanentSyncError("bad_payload", f"{self.name}: bad market-data row")
                variant = str(row.get("variantId", ""))
                size = size_of.get(variant)
                if size is None or (sizes and size not in sizes):
                    continue
                quotes.append(
                    PriceQuote(
                        provider=self.name,
                        region=region,
                        size=size,
                        currency=parse_currency(
                            row.get("currencyCode", currency), provider=self.name
                        ),
                        lowest_ask=parse_amount(
                            row.get("lowestAskAmount"), provider=self.name, what="lowestAskAmount"
                        ),
                        highest_bid=parse_amount(
                            row.get("highestBidAmount"), provider=self.name, what="highestBidAmount"
                        ),
                    )
                )
        return quotes

    def resolve_product_id(self, sku: str) -> str:
        """StockX's productId for a SKU (its styleId); PermanentSyncError(unknown_sku)."""
        data = self.get_json("/catalog/search", {"query": sku, "pageNumber": "1", "pageSize": "10"})
        products = data.get("products", []) if isinstance(data, dict) else []
        for product in products:
            if isinstance(product, dict) and str(product.get("styleId", "")).upper() == sku.upper():
                return str(product["productId"])
        raise PermanentSyncError("unknown_sku", f"{self.name}: no product with style id {sku}")

    def variant_sizes(self, product_id: str) -> dict[str, str]:
        """size -> variantId for every variant of the product."""
        rows = self.get_json(f"/catalog/products/{product_id}/variants")
        if not isinstance(rows, list):
            raise PermanentSyncError("bad_payload", f"{self.name}: variants is not a list")
        return {
            str(row["variantValue"]): str(row["variantId"])
            for row in rows
            if isinstance(row, dict) and row.get("variantId") and row.get("variantValue")
        }
