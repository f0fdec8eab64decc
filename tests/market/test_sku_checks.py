"""SKUs: length and characters checked with a message (never cut silently), and a SKU that
no provider knows reported to its owner as such, through the simulator over HTTP."""

from __future__ import annotations

import re

import pytest

from market.marketsim.prices import product_uuid
from market.models import PriceSnapshot, Product, Watch
from market.services.product_sync import is_unknown_sku
from market.services.products import watch_add
from tests.market.helpers import sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_web(client, alice):
    client.force_login(alice)
    return client


def add(client, sku: str) -> str:
    return client.post("/market/", {"sku": sku}).content.decode()


def test_a_sku_past_64_characters_is_refused_with_its_length(alice_web, alice):
    page = alice_web.get("/market/").content.decode()
    sku_input = re.search(r'<input[^>]*name="sku"[^>]*>', page)[0]
    assert "maxlength" not in sku_input  # the browser would cut a paste without a word

    html = add(alice_web, "A" * 70)

    assert 'id="id_sku_error"' in html
    assert "A SKU has at most 64 characters; this one has 70." in html
    assert not Watch.objects.filter(owner=alice).exists()
    assert alice_web.post("/market/", {"sku": "B" * 64}).status_code == 302
    assert Product.objects.filter(sku="B" * 64).exists()


@pytest.mark.parametrize(
    ("sku", "message"),
    [
        ("DD1391 100#", "dashes and underscores only, not a space, “#”."),
        ("DD1391/100", "not “/”."),
        ("NIKÉ-1", "not “É”."),
        ("-DD1391", "A SKU starts with a letter or a digit."),
    ],
)
def test_a_sku_with_other_characters_is_refused_naming_them(alice_web, alice, sku, message):
    html = add(alice_web, sku)
    assert 'id="id_sku_error"' in html and message in html
    assert not Watch.objects.filter(owner=alice).exists()


def test_the_api_says_why_a_sku_is_refused(alice_api):
    long = alice_api.post("/api/v1/products/", {"sku": "C" * 65}, format="json")
    assert long.status_code == 400
    assert "A SKU has at most 64 characters." in long.json()["sku"]
    odd = alice_api.post("/api/v1/products/", {"sku": "DD 1391"}, format="json")
    assert odd.status_code == 400 and "letters, digits, dots" in odd.json()["sku"][0]


def unknown_at(sim, sku: str, *providers: str) -> None:
    if "stockx" in providers:
        sim.missing.add(product_uuid(sku))
    if "alias" in providers:
        sim.missing.add(sku)


def test_a_sku_no_provider_knows_is_reported_as_unknown_to_its_owner(sim, alice, alice_web):
    watch, _ = watch_add(alice, "ZZ9999-404")
    unknown_at(sim, "ZZ9999-404", "stockx", "alias")

    attempt = sync(watch.product)

    assert (attempt.outcome, attempt.reason) == ("failed", "unknown_sku")
    expected = "Unknown SKU: no provider lists ZZ9999-404 (asked alias, stockx)."
    assert attempt.message.startswith(expected)
    html = alice_web.get("/market/").content.decode()
    row = html[html.index(f'id="watch-{watch.pk}"') :]
    assert 'class="bad unknown-sku"' in row and expected in row and "Check it for typos" in row
    assert "the last try failed" not in row[: row.index("</tr>")]


def test_unknown_at_one_provider_and_down_at_the_other_is_no_unknown_sku(sim):
    product = watch_add_product("ZZ9999-500")
    unknown_at(sim, "ZZ9999-500", "stockx")
    sim.fail_prefixes = {"/generic"}

    attempt = sync(product)

    assert attempt.outcome == "failed"
    assert attempt.message.startswith("all 2 providers failed (alias: http_5xx; stockx: unknown")
    assert not is_unknown_sku(product)


def test_unknown_at_one_provider_still_saves_the_others_prices(sim):
    product = watch_add_product("ZZ9999-200")
    unknown_at(sim, "ZZ9999-200", "alias")

    attempt = sync(product)

    assert (attempt.outcome, attempt.reason) == ("ok", "partial")
    assert PriceSnapshot.objects.filter(product=product, provider="stockx").exists()
    assert not PriceSnapshot.objects.filter(product=product, provider="alias").exists()


def watch_add_product(sku: str) -> Product:
    from tests.conftest import make_owner

    watch, _ = watch_add(make_owner(f"{sku.lower()}@example.com"), sku)
    return watch.product


@pytest.mark.parametrize(
    ("brand", "name", "shown"),
    [
        ("Nike", "Nike SB Dunk Low", "Nike SB Dunk Low"),
        ("Nike", "Dunk Low Panda", "Nike Dunk Low Panda"),
        ("New Balance", "New Balance 2002R", "New Balance 2002R"),
        ("New Balance", "9060", "New Balance 9060"),
        ("Jordan", "Air Jordan 1 High", "Air Jordan 1 High"),
        ("adidas", "ADIDAS Samba OG", "ADIDAS Samba OG"),
        ("On", "Cloudmonster", "On Cloudmonster"),  # "On" inside a word is no brand
        ("", "Gel-Lyte III", "Gel-Lyte III"),
        ("ASICS", "", "ASICS"),
    ],
)
def test_a_product_is_named_with_its_brand_once(brand, name, shown):
    assert Product(sku="X-1", brand=brand, name=name).display_name == shown
