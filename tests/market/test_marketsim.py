"""The provider simulator itself: both shapes, API keys, rate limit, moving prices."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from market.marketsim import running_server
from market.marketsim.prices import product_uuid, quote


def get(url, key="k1"):
    request = urllib.request.Request(url, headers={"x-api-key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_both_shapes_with_string_amounts():
    with running_server() as sim:
        status, _, body = get(f"{sim.url}/generic/prices/DD1391-100?region=EU")
        assert status == 200 and body["currency"] == "EUR"
        assert isinstance(body["prices"][0]["lowest_ask"], str)

        _, _, found = get(f"{sim.url}/stockx/v2/catalog/search?query=DD1391-100")
        pid = found["products"][0]["productId"]
        assert pid == product_uuid("DD1391-100")
        _, _, variants = get(f"{sim.url}/stockx/v2/catalog/products/{pid}/variants")
        _, _, market = get(
            f"{sim.url}/stockx/v2/catalog/products/{pid}/market-data?currencyCode=GBP&country=GB"
        )
        assert {v["variantId"] for v in variants} == {m["variantId"] for m in market}
        assert market[0]["currencyCode"] == "GBP" and isinstance(market[0]["lowestAskAmount"], str)


def test_api_key_required_and_rate_limit_per_key_with_retry_after():
    with running_server(rate_limit=3) as sim:
        assert get(f"{sim.url}/generic/prices/X?region=US", key="")[0] == 401
        codes = [get(f"{sim.url}/generic/prices/X?region=US")[0] for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        status, headers, _ = get(f"{sim.url}/generic/prices/X?region=US")
        assert status == 429 and 0 < float(headers["Retry-After"]) <= 1
        assert get(f"{sim.url}/generic/prices/X?region=US", key="other")[0] == 200
        stats = get(f"{sim.url}/__stats")[2]
        assert stats["rate_limited"]["k1"] == 3 and stats["served"]["k1"] == 3


def test_prices_move_deterministically_by_time_bucket():
    a = quote("SKU-1", "US", "10", 1000)
    assert a == quote("SKU-1", "US", "10", 1000)
    series = {quote("SKU-1", "US", "10", b)["lowest_ask"] for b in range(1000, 1010)}
    assert len(series) > 5
