# Models for metrics, alerts and webhooks live here (imported by syncing/models.py).
