"""The engine's default alert rules (the seed figures), as plain data, about every kind
alike; ``alerts.ensure_default_rules`` creates the missing ones, with those the domains
declare in their kinds.py (``Domain.alert_rules``: alarms' "briefing late"). Staff edit the
rows afterwards. (Migration 0003 keeps its own frozen copy.)"""

from datetime import timedelta

DEFAULT_RULES = [
    {
        "key": "slow-sync",
        "name": "A sync slower than 45 s",
        "metric": "slow_sync",
        "threshold": 45.0,
        "window": timedelta(minutes=15),
    },
    {
        "key": "error-rate",
        "name": "Error rate above 5% over 15 minutes",
        "metric": "error_rate",
        "threshold": 5.0,
        "window": timedelta(minutes=15),
    },
    {
        "key": "queue-depth",
        "name": "A queue deeper than 1,000 messages",
        "metric": "queue_depth",
        "threshold": 1000.0,
        "window": None,
    },
    {
        "key": "timeouts",
        "name": "Any timeout",
        "metric": "timeouts",
        "threshold": 0.0,
        "window": timedelta(minutes=15),
    },
    {
        "key": "on-time-rate",
        "name": "On-time rate under 99%",
        "metric": "on_time_rate",
        "threshold": 99.0,
        "window": None,
    },
    {
        "key": "provider-429",
        "name": "A provider answering 429 repeatedly",
        "metric": "rate_limited",
        "threshold": 5.0,
        "window": timedelta(minutes=15),
    },
]
