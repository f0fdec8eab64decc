"""Configuration mistakes as Django system checks (``manage.py check``)."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def broker_and_cache(app_configs, **kwargs):
    problems = []
    broker = settings.CELERY_BROKER_URL
    db_engine = settings.DATABASES["default"]["ENGINE"]
    if db_engine.endswith("postgresql") and broker.startswith("filesystem"):
        problems.append(
            Warning(
                "PostgreSQL with the filesystem broker: workers on other machines cannot share it.",
                hint="Set CELERY_BROKER_URL to a Redis or RabbitMQ URL.",
                id="syncing.W001",
            )
        )
    if not settings.DEBUG and settings.ALLOW_PRIVATE_URLS:
        problems.append(
            Warning(
                "ALLOW_PRIVATE_URLS is on: owners can make the fetcher call private and "
                "loopback addresses.",
                hint="Leave it off in production.",
                id="syncing.W002",
            )
        )
    if settings.CELERY_TASK_TIME_LIMIT >= settings.CELERY_VISIBILITY_TIMEOUT:
        problems.append(
            Error(
                "CELERY_TASK_TIME_LIMIT must be below CELERY_VISIBILITY_TIMEOUT.",
                id="syncing.E001",
            )
        )
    return problems
