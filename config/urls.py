from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from syncing.docs import RedocView, SwaggerView

# The admin app is SimpleAdminConfig (config/settings.py): the apps' admin modules are
# imported here, by the processes that serve URLs, not by every worker.
admin.autodiscover()

# Django tries patterns in order, and each include that does not match raises and catches a
# Resolver404: the API, the busiest path (integrators, channels' polls), comes first, and
# inside it calendars, the busiest API (a listings or feeds page resolved in 93-102 us
# behind the monitoring and syncing includes, 38-44 us first; bench/api_lists_costs.py).
# No two of these share a prefix, so the order changes no answer.
api_v1 = [
    path("", include("calendars.api_urls")),
    path("", include("syncing.api_urls")),
    path("", include("alarms.api_urls")),
    path("", include("market.api_urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    # The staff sync dashboard (under admin/), /metrics and the owner status page.
    path("", include("syncing.monitoring.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="api-redoc"),
    path("calendars/", include("calendars.urls")),
    path("alarms/", include("alarms.urls")),
    path("market/", include("market.urls")),
    path("", include("syncing.urls")),
]
