"""API list pagination: numbered pages by default, cursors for integrators who walk it all.

``?page=3`` answers ``{"count", "next", "previous", "results"}`` and costs a ``COUNT(*)``
per page, which grows with the table. ``?cursor=`` (empty to start, then the ``next`` link)
answers ``{"next", "previous", "results"}`` in id order: no count, each page one indexed
range query (``id > last``), and a walk sees every row once even while rows are added.
"""

from __future__ import annotations

from rest_framework.pagination import CursorPagination, PageNumberPagination


class IdCursorPagination(CursorPagination):
    """Cursor pages in primary-key order (unique and never changing, as cursors need)."""

    ordering = "pk"

    def get_ordering(self, request, queryset, view):
        return ("pk",)  # whatever ``?ordering=`` or the model says: a cursor needs one order


class PageOrCursorPagination(PageNumberPagination):
    """PageNumberPagination, or IdCursorPagination when the request has ``cursor``."""

    cursor_query_param = "cursor"

    def __init__(self) -> None:
        self._cursor: IdCursorPagination | None = None

    def paginate_queryset(self, queryset, request, view=None):
        if self.cursor_query_param not in request.query_params:
            return super().paginate_queryset(queryset, request, view)
        self._cursor = IdCursorPagination()
        self._cursor.page_size = self.get_page_size(request)
        return self._cursor.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self._cursor is not None:
            return self._cursor.get_paginated_response(data)
        return super().get_paginated_response(data)

    def get_schema_operation_parameters(self, view):
        cursor = {
            "name": self.cursor_query_param,
            "required": False,
            "in": "query",
            "description": (
                "Walk the list in id order instead of numbered pages: pass it empty to "
                "start, then follow `next`. No `count` in the answer (no COUNT(*) per page)."
            ),
            "schema": {"type": "string"},
        }
        return [*super().get_schema_operation_parameters(view), cursor]

    def get_paginated_response_schema(self, schema):
        paged = super().get_paginated_response_schema(schema)
        paged["required"] = ["results"]
        paged["properties"]["count"]["description"] = "Absent in cursor mode (`?cursor=`)."
        return paged
