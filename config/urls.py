from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from syncing.docs import RedocView, SwaggerView

# The admin app is SimpleAdminConfig (config/settings.py): the apps' admin modules are
# imported here, by the processes that serve URLs, not by every worker.
admin.autodiscover()

api_v1 = [
    path("", include("syncing.api_urls")),
    path("", include("calendars.api_urls")),
    path("", include("alarms.api_urls")),
    path("", include("market.api_urls")),
]

urlpatterns = [
    # The staff sync dashboard (under admin/), /metrics and the owner status page.
    path("", include("syncing.monitoring.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", RedocView.as_view(url_name="schema"), name="api-redoc"),
    path("calendars/", include("calendars.urls")),
    path("alarms/", include("alarms.urls")),
    path("market/", include("market.urls")),
    path("", include("syncing.urls")),
]
