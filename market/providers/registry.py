"""Which providers exist and how to reach them: settings.MARKET_PROVIDERS.

``MARKET_PROVIDERS`` is a dict (or its JSON text, e.g. from the environment) of
provider name -> {"client": "stockx" | "generic_json", "base_url", "api_key", "token",
"rate_limit", "allow_loopback"}. Without the setting, two providers point at the local
simulator (``manage.py marketsim --port 8300``), each limited to 50 requests/s.

The setting is parsed once (again only when it is replaced, as tests do) and checked at
start-up by the system check market.E001 (market/checks.py).
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from market.providers.base import BaseProvider, ProviderConfig
from market.providers.generic_json import GenericJSONProvider
from market.providers.stockx import StockXProvider

SIMULATOR_URL = "http://127.0.0.1:8300"

DEFAULT_PROVIDERS: dict[str, dict[str, Any]] = {
    "stockx": {
        "client": "stockx",
        "base_url": f"{SIMULATOR_URL}/stockx/v2",
        "api_key": "sim-stockx-key",
        "token": "sim-stockx-token",
        "rate_limit": "50/second",
        "allow_loopback": True,
    },
    "alias": {
        "client": "generic_json",
        "base_url": f"{SIMULATOR_URL}/generic",
        "api_key": "sim-alias-key",
        "rate_limit": "50/second",
        "allow_loopback": True,
    },
}

CLIENTS: dict[str, type[BaseProvider]] = {
    "stockx": StockXProvider,
    "generic_json": GenericJSONProvider,
}


class UnknownProvider(LookupError):
    pass


# (the setting's value, its parsed configs): parsed again only when the value is replaced.
_parsed: tuple[object, dict[str, ProviderConfig]] | None = None


def provider_configs() -> dict[str, ProviderConfig]:
    """Every configured provider; ImproperlyConfigured names MARKET_PROVIDERS on a bad value."""
    global _parsed
    raw = settings.MARKET_PROVIDERS
    cached = _parsed
    if cached is None or cached[0] is not raw:
        cached = _parsed = (raw, parse_providers(raw))
    return dict(cached[1])


def parse_providers(raw: str | dict | None) -> dict[str, ProviderConfig]:
    """``MARKET_PROVIDERS`` (JSON text or a dict; empty: the simulator's two) as configs.
    Raises ImproperlyConfigured naming the setting (and the provider) on a bad value."""
    raw = raw or DEFAULT_PROVIDERS
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ImproperlyConfigured(f"MARKET_PROVIDERS: not valid JSON ({exc})")
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("MARKET_PROVIDERS: expected an object of provider -> config")
    configs = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or entry.get("client") not in CLIENTS:
            raise ImproperlyConfigured(
                f"MARKET_PROVIDERS[{name!r}]: client must be one of {', '.join(CLIENTS)}"
            )
        if not str(entry.get("base_url", "")).startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"MARKET_PROVIDERS[{name!r}]: base_url must be http(s)")
        known = {"client", "base_url", "api_key", "token", "rate_limit", "allow_loopback"}
        configs[name] = ProviderConfig(
            name=name,
            client=entry["client"],
            base_url=entry["base_url"],
            api_key=entry.get("api_key", ""),
            token=entry.get("token", ""),
            rate_limit=entry.get("rate_limit", "50/second"),
            allow_loopback=bool(entry.get("allow_loopback", False)),
            options={k: v for k, v in entry.items() if k not in known},
        )
    return configs


def provider_names() -> list[str]:
    return list(provider_configs())


def get_provider(name: str) -> BaseProvider:
    """A client for the named provider; UnknownProvider when it is not configured."""
    config = provider_configs().get(name)
    if config is None:
        raise UnknownProvider(f"market provider {name!r} is not configured")
    return CLIENTS[config.client](config)
