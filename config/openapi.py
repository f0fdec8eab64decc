"""drf-spectacular's settings (SPECTACULAR_SETTINGS in config/settings.py): the OpenAPI
document's title, grouping and the documentation pages, served from our own static files."""

OPENAPI_SETTINGS = {
    "TITLE": "Syncbeat API",
    "DESCRIPTION": "Scheduled sync of calendars, alarms and market prices. "
    "Authenticate with `Authorization: Token <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "RegionEnum": "market.models.Region",
        "EventKindEnum": "calendars.models.EventKind",
    },
    # Operations grouped by part of the API (syncing.schema), in this order.
    "TAGS": [
        {"name": "auth", "description": "Exchange a login for an API token; log it out."},
        {"name": "sync", "description": "The engine: tiers, attempts, freshness, status."},
        {"name": "calendars", "description": "Listings, their iCal feeds, events, conflicts."},
        {"name": "alarms", "description": "Alarms and their spoken briefings."},
        {"name": "market", "description": "Products by SKU, price history, watches."},
        {"name": "webhooks", "description": "Signed webhook endpoints and their deliveries."},
    ],
    # Swagger UI and Redoc served from our own static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # System fonts: ReDoc's default Roboto and Montserrat would come from Google Fonts
    # (templates/drf_spectacular/redoc.html drops those links).
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif",
                "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', sans-serif"},
                "code": {"fontFamily": "ui-monospace, 'SFMono-Regular', Menlo, monospace"},
            }
        }
    },
}
