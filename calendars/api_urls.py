from rest_framework.routers import SimpleRouter

from calendars import api

router = SimpleRouter()
router.register("listings", api.ListingViewSet, basename="calendars-listing")
router.register("feeds", api.FeedViewSet, basename="calendars-feed")
router.register("events", api.EventViewSet, basename="calendars-event")
router.register("conflicts", api.ConflictViewSet, basename="calendars-conflict")
urlpatterns = router.urls
