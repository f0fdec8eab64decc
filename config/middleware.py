"""Refuse requests whose path, query string or form fields carry NUL, other control
characters or lone surrogates, with a 400, before any view, query or template sees them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from syncing.validation import has_control_characters

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class RefuseControlCharactersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        where = self._problem(request)
        if where:
            return HttpResponseBadRequest(
                f"Bad request: control characters (NUL, ...) in the {where}.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)

    @staticmethod
    def _problem(request: HttpRequest) -> str | None:
        if has_control_characters(request.path):
            return "path"
        for key, values in request.GET.lists():
            if has_control_characters(key) or any(has_control_characters(v) for v in values):
                return "query string"
        if request.method == "POST" and request.content_type in FORM_TYPES:
            for key, values in request.POST.lists():
                if has_control_characters(key) or any(
                    has_control_characters(v, multiline=True) for v in values
                ):
                    return "form"
        return None
