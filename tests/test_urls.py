"""The URL table: every named route resolves back to itself (config/urls.py orders its
includes by traffic, the API first; an earlier pattern that swallowed a later route's path
would answer with the wrong view)."""

from __future__ import annotations

import re

from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse

ARGUMENT = re.compile(r"<(?:(\w+):)?(\w+)>|\(\?P<(\w+)>[^)]*\)")


def _routes(resolver: URLResolver, namespace: str = "", prefix: str = ""):
    """(namespaced name, pattern text) of every named route."""
    for entry in resolver.url_patterns:
        text = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            yield from _routes(entry, ns, text)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", text


def _kwargs(pattern: str) -> dict[str, str]:
    found = ARGUMENT.findall(pattern)
    return {name or regex: "7" if conv == "int" else "x7" for conv, name, regex in found}


def test_every_named_route_resolves_back_to_itself():
    checked = 0
    for name, pattern in _routes(get_resolver()):
        if name.startswith("admin:") or "(?P<format>" in pattern or "\\.(?P" in pattern:
            continue  # the admin's own table, DRF's format suffixes
        try:
            path = reverse(name, kwargs=_kwargs(pattern) or None)
        except NoReverseMatch:  # a converter this test does not fake
            continue
        match = resolve(path)
        assert match.view_name == name, (name, path, match.view_name)
        checked += 1
    assert checked >= 40, checked  # the API, the owner pages, monitoring
