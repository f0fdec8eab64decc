# Read by gunicorn from the working directory (the Procfile's `web` runs in the project root).
# The access log redacts export-feed and signed audio tokens (syncing.redaction).
logger_class = "syncing.redaction.RedactingGunicornLogger"
