from django.apps import AppConfig


class SyncingConfig(AppConfig):
    name = "syncing"
    verbose_name = "Sync engine"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from syncing import checks, signals  # noqa: F401  (registers checks and handlers)
        from syncing.kinds import register
        from syncing.monitoring import workers  # noqa: F401  (worker heartbeats)
        from syncing.probe import PROBE_KIND
        from syncing.services.tiers import ensure_default_tiers

        register(PROBE_KIND)

        post_migrate.connect(ensure_default_tiers, sender=self)
        from syncing.monitoring.schedule import ensure_monitoring_schedule

        post_migrate.connect(ensure_monitoring_schedule, sender=self)
