"""The API's JSON parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

Apart from syncing.validation so that the models, which import the validators, do not
load DRF's parsers and renderers (and django.test behind them) into every worker process.
"""

from __future__ import annotations

import json

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from syncing.validation import JSON_MAX_DEPTH, json_problem


class SafeJSONParser(JSONParser):
    """DRF's JSON parser with a bounded nesting depth and no NUL, control characters or lone
    surrogates in any string: each is a 400 with the reason."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {JSON_MAX_DEPTH} levels.")
        except json.JSONDecodeError as exc:  # pragma: no cover - DRF maps ValueError itself
            raise ParseError(f"JSON parse error - {exc}")
        problem = json_problem(data)
        if problem:
            raise ParseError(problem)
        return data
