# Read by gunicorn from the working directory (the Procfile's `web` runs in the project root).
# The access log redacts export-feed and signed audio tokens (syncing.redaction).
logger_class = "syncing.redaction.RedactingGunicornLogger"


def post_worker_init(worker):
    """The worker has loaded the app: load the URL table too (Django imports it at the first
    request: every view, serializer and the admin), then freeze what is loaded so the
    garbage collector's full collections skip it (syncing.heap.freeze_loaded_objects)."""
    from django.urls import get_resolver

    from syncing.heap import freeze_loaded_objects

    get_resolver().url_patterns  # noqa: B018 - imported for its side effect
    frozen = freeze_loaded_objects()
    worker.log.info("froze %d loaded objects out of the garbage collector", frozen)
