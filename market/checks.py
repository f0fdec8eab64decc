"""The market's configuration mistakes as Django system checks (``manage.py check``, and
every start of the web process and the workers). Registered in ``MarketConfig.ready()``."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured


@register()
def market_providers(app_configs, **kwargs) -> list[Error]:
    """market.E001: MARKET_PROVIDERS is not JSON, not an object of provider -> config, or
    one provider names an unknown client or a base_url that is not http(s)."""
    from market.providers.registry import CLIENTS, parse_providers

    try:
        parse_providers(settings.MARKET_PROVIDERS)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint=(
                    'Expected a JSON object such as {"stockx": {"client": "stockx", '
                    '"base_url": "https://...", "api_key": "...", "rate_limit": "50/second"}}; '
                    f"clients: {', '.join(CLIENTS)}. Leave it empty for the local simulator."
                ),
                id="market.E001",
            )
        ]
    return []
