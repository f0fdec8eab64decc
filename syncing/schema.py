"""The OpenAPI schema's grouping: every operation is tagged with the part of the API it
belongs to (auth, sync, calendars, alarms, market, webhooks) instead of the path's first
segment, which put all of them under one "v1" heading. The tags, in order and with their
descriptions, are in SPECTACULAR_SETTINGS["TAGS"]."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema


def api_tag(module: str, path: str) -> str:
    """The tag of an operation served by a view from ``module`` at ``path``."""
    if "/auth/" in path:
        return "auth"
    package, _, rest = module.partition(".")
    if package == "syncing":
        return "webhooks" if rest.startswith("webhooks") else "sync"
    return package


class TaggedAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        return [api_tag(type(self.view).__module__, self.path)]
