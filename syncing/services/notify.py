"""Telling owners about their items, in words, when the engine itself has news."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail

from syncing.kinds import Kind

logger = logging.getLogger("syncing.notify")


def owner_item_paused(kind: Kind, item, reason: str, owner_id: int | None) -> bool:
    """Email the owner that ``item`` stopped syncing and why (kinds without a hook of their
    own). Returns whether a mail went out; a mail failure is logged, never raised."""
    owner = get_user_model().objects.filter(pk=owner_id).first() if owner_id else None
    if owner is None or not owner.email:
        return False
    what = kind.model_class._meta.verbose_name
    subject = f"Syncbeat paused your {what} “{item}”"
    body = (
        f"We stopped syncing your {what} “{item}”.\n\n"
        f"{reason}\n\n"
        f"Fix what the error says, then resume it from your status page: "
        f"{settings.SITE_URL}/status/\n"
    )
    try:
        send_mail(subject, body, None, [owner.email])
    except Exception:  # the pause is recorded whatever the mail server says
        logger.exception("could not email %s about paused %s #%s", owner.pk, kind.name, item.pk)
        return False
    return True
