from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = "Alarms"

    def ready(self) -> None:
        from alarms.kinds import DOMAIN
        from alarms.services.budget import budgets
        from syncing.domains import register_domain

        register_domain(DOMAIN)  # everything alarms tells the engine: alarms/kinds.py
        budgets()  # a malformed ALARMS_SPEECH_BUDGETS stops start-up, naming it
