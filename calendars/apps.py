from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    name = "calendars"
    verbose_name = "Calendars"

    def ready(self) -> None:
        from calendars.kinds import DOMAIN
        from syncing.domains import register_domain

        register_domain(DOMAIN)  # everything calendars tells the engine: calendars/kinds.py
