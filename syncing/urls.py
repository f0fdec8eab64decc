from django.contrib.auth import views as auth_views
from django.urls import include, path

from syncing import views
from syncing.login import ThrottledLoginView

urlpatterns = [
    path("", views.home, name="home"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("account/tokens/", views.api_tokens, name="api-tokens"),
    path("login/", ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("syncing.accounts")),
]
