"""The Celery application, configured from Django settings (the CELERY_ namespace)."""

import os

from celery import Celery
from celery.signals import before_task_publish, setup_logging, worker_process_init

from syncing.brokers import translate_priority
from syncing.celery_db import keep_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Celery's Django fixup runs every system check when a worker starts and throws the result
# away; the URL checks import every URL module, view, the admin and the API schema (15 MB
# of every worker and pool process). `manage.py check` runs them (CI, deploys).
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

app = Celery("syncbeat")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Workers keep their database connections across tasks (CONN_MAX_AGE), not one per task.
keep_connections(app)
# The engine's priorities (0 first) as the broker reads them (RabbitMQ: highest first).
before_task_publish.connect(translate_priority, weak=False)


@setup_logging.connect
def _use_django_logging(**kwargs):
    """Keep Django's LOGGING for workers and beat instead of Celery's own handlers."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_process_init.connect
def _freeze_loaded_objects(**kwargs):
    """Each pool process, once started (the task modules loaded): the objects it keeps for
    its life leave the garbage collector's walk (syncing.heap.freeze_loaded_objects)."""
    from syncing.heap import freeze_loaded_objects

    freeze_loaded_objects()
