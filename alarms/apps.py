from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"

    def ready(self) -> None:
        pass
