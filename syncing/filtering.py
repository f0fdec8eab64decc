"""The API's filter backend: django-filter, stricter.

- an unknown query parameter on a listing is a 400 naming the parameters that exist
  (``?start=notadate`` used to be ignored and returned everything);
- a malformed value is a 400 with the reason (django-filter's own validation);
- a filter that picks a related object (``?alarm=<id>``) offers only the caller's own
  objects, so another owner's id answers exactly like an id nobody has.
"""

from __future__ import annotations

import django_filters
from django.conf import settings
from django_filters import BooleanFilter, ModelChoiceFilter, ModelMultipleChoiceFilter
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

# Parameters every listing understands besides its filters.
COMMON_PARAMETERS = frozenset({"page", "page_size", "cursor", "format", "search", "ordering"})
BOOLEANS = frozenset({"true", "false", "True", "False", "1", "0"})
CHOOSERS = (ModelChoiceFilter, ModelMultipleChoiceFilter)


def owned_by(queryset, user):
    """``queryset`` narrowed to ``user``'s objects when its model has an owner."""
    fields = {f.name for f in queryset.model._meta.get_fields()}
    if "owner" in fields:
        return queryset.filter(owner=user)
    if "user" in fields and queryset.model._meta.label != settings.AUTH_USER_MODEL:
        return queryset.filter(user=user)
    return queryset


class FilterSet(django_filters.FilterSet):
    """django-filter's FilterSet, whose form class is made once per FilterSet class (django-
    filter makes one per request: a third of its cost) unless a filter chooses objects
    (StrictFilterBackend gives those the requester's own objects, per request)."""

    def get_form_class(self):
        made = type(self).__dict__.get("_form_class")
        if made is not None:
            return made
        form_class = super().get_form_class()
        if not any(isinstance(f, CHOOSERS) for f in self.filters.values()):
            type(self)._form_class = form_class
        return form_class


class StrictFilterBackend(DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            for f in filterset.filters.values():
                chooses_objects = isinstance(f, CHOOSERS)
                if chooses_objects and hasattr(f.queryset, "model"):
                    f.queryset = owned_by(f.queryset.all(), request.user)
        return filterset

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", "list") == "list":
            self._check_parameters(request, queryset, view)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or not set(request.query_params) & set(
            filterset_class.base_filters
        ):
            return queryset  # no filter asked for: django-filter's form would change nothing
        return super().filter_queryset(request, queryset, view)

    def _check_parameters(self, request, queryset, view) -> None:
        filterset_class = self.get_filterset_class(view, queryset)
        filters = filterset_class.base_filters if filterset_class else {}
        params = request.query_params
        unknown = sorted(set(params) - set(filters) - COMMON_PARAMETERS)
        if unknown:
            offered = ", ".join(sorted(filters)) or "none"
            raise ValidationError(
                {name: [f"Unknown filter. Filters here: {offered}."] for name in unknown}
            )
        # django-filter reads a yes/no it does not understand as "any": say so instead.
        bad = [
            name
            for name, f in filters.items()
            if isinstance(f, BooleanFilter) and params.get(name, "true") not in BOOLEANS
        ]
        if bad:
            raise ValidationError({name: ["Expected true or false."] for name in bad})
