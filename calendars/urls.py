from django.urls import path

from calendars import views

app_name = "calendars"
urlpatterns = [
    path("", views.index, name="index"),
    path("<str:token>.ics", views.export_feed, name="export"),
    path("conflicts/", views.conflicts, name="conflicts"),
    path("conflicts/<int:pk>/dismiss/", views.conflict_dismiss, name="conflict_dismiss"),
    path("events/<int:pk>/kind/", views.event_kind, name="event_kind"),
    path("listings/new/", views.listing_create, name="listing_create"),
    path("listings/<int:pk>/edit/", views.listing_edit, name="listing_edit"),
    path("listings/<int:pk>/delete/", views.listing_delete, name="listing_delete"),
    path("listings/<int:pk>/month/", views.listing_month, name="listing_month"),
    path(
        "listings/<int:pk>/regenerate-export/",
        views.listing_regenerate_export,
        name="listing_regenerate_export",
    ),
    path("listings/<int:pk>/feeds/new/", views.feed_create, name="feed_create"),
    path("feeds/<int:pk>/edit/", views.feed_edit, name="feed_edit"),
    path("feeds/<int:pk>/delete/", views.feed_delete, name="feed_delete"),
    path("feeds/<int:pk>/sync/", views.feed_sync, name="feed_sync"),
    path("feeds/<int:pk>/row/", views.feed_row, name="feed_row"),
    path("feeds/<int:pk>/resume/", views.feed_resume, name="feed_resume"),
    path("feeds/<int:pk>/import/", views.feed_import, name="feed_import"),
    path("feeds/sync-all/", views.feeds_sync_all, name="feeds_sync_all"),
    path("listings/<int:pk>/sync/", views.listing_sync, name="listing_sync"),
]
