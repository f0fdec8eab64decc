from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market"

    def ready(self) -> None:
        from market import checks  # noqa: F401  (registers the MARKET_PROVIDERS check)
        from market.kinds import DOMAIN
        from syncing.domains import register_domain

        register_domain(DOMAIN)  # everything market tells the engine: market/kinds.py
