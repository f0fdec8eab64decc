"""Pooled requests sessions, one per thread, process and address policy."""

from __future__ import annotations

import os
import threading

import requests
from django.conf import settings
from requests_hardened import Config

from syncing.fetching.addresses import guarded_session

_local = threading.local()


def session_for(*, filter_ips: bool, allow_loopback: bool) -> requests.Session:
    """A pooled session for this thread and process, one per address policy."""
    sessions = getattr(_local, "sessions", None)
    if sessions is None or getattr(_local, "pid", None) != os.getpid():
        sessions = _local.sessions = {}  # after a fork, never share the parent's sockets
        _local.pid = os.getpid()
    key = (filter_ips, allow_loopback)
    session = sessions.get(key)
    if session is None:
        session = guarded_session(
            Config(
                ip_filter_enable=filter_ips,
                ip_filter_allow_loopback_ips=allow_loopback,
                never_redirect=True,  # we follow redirects ourselves, checking each hop
                default_timeout=(settings.FETCH_CONNECT_TIMEOUT, settings.FETCH_READ_TIMEOUT),
                user_agent_override=None,
            )
        )
        # No proxies or .netrc from the environment: a proxy would defeat the address
        # check, and .netrc would attach credentials to user-supplied hosts.
        session.trust_env = False
        session.headers["User-Agent"] = getattr(settings, "FETCH_USER_AGENT", "Syncbeat/1.0")
        sessions[key] = session
    return session
