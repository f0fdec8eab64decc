from rest_framework.routers import SimpleRouter

from alarms.api import AlarmViewSet, BriefingViewSet

router = SimpleRouter()
router.register("alarms", AlarmViewSet, basename="alarm")
router.register("briefings", BriefingViewSet, basename="briefing")
urlpatterns = router.urls
