"""The API docs pages (ReDoc, Swagger UI) from drf-spectacular, self-contained: their
scripts come from drf-spectacular-sidecar, and nothing else is loaded from elsewhere
(templates/drf_spectacular/redoc.html, DOCS_CSP)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# The docs pages may load only what this site serves: ReDoc's sidebar shows a logo from
# cdn.redoc.ly that no option turns off; under this policy the browser never requests it
# (the image hides itself on error). Inline scripts and styles are the pages' own; ReDoc's
# search runs in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


class SelfContained:
    """Mixin for the docs views: the page carries DOCS_CSP."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class RedocView(SelfContained, SpectacularRedocView):
    pass


class SwaggerView(SelfContained, SpectacularSwaggerView):
    pass
