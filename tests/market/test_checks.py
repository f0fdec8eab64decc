"""MARKET_PROVIDERS is checked at start-up (system check market.E001) and parsed once."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from market.providers import registry


def _market_errors():
    return [m for m in checks.run_checks() if m.id == "market.E001"]


def test_the_default_and_a_good_value_pass(settings):
    settings.MARKET_PROVIDERS = ""
    assert _market_errors() == []
    settings.MARKET_PROVIDERS = '{"alias": {"client": "generic_json", "base_url": "https://a.b"}}'
    assert _market_errors() == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("{not json", "not valid JSON"),
        ('["stockx"]', "expected an object"),
        ('{"x": {"client": "ebay", "base_url": "https://a.b"}}', "MARKET_PROVIDERS['x']: client"),
        ('{"x": {"client": "stockx", "base_url": "ftp://a.b"}}', "base_url must be http(s)"),
    ],
)
def test_a_bad_value_is_a_system_check_error_naming_the_setting(settings, value, words):
    settings.MARKET_PROVIDERS = value
    errors = _market_errors()
    assert len(errors) == 1 and errors[0].is_serious()
    assert "MARKET_PROVIDERS" in errors[0].msg and words in errors[0].msg
    with pytest.raises(ImproperlyConfigured):
        registry.provider_configs()


def test_the_setting_is_parsed_once_until_it_is_replaced(settings, monkeypatch):
    settings.MARKET_PROVIDERS = '{"alias": {"client": "generic_json", "base_url": "https://a"}}'
    calls = []
    real = registry.parse_providers
    monkeypatch.setattr(registry, "parse_providers", lambda raw: calls.append(raw) or real(raw))
    for _ in range(5):
        assert list(registry.provider_configs()) == ["alias"]
        registry.get_provider("alias")
    assert len(calls) == 1
    settings.MARKET_PROVIDERS = '{"stockx": {"client": "stockx", "base_url": "https://s"}}'
    assert list(registry.provider_configs()) == ["stockx"]
    assert len(calls) == 2
