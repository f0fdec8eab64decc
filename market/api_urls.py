from rest_framework.routers import SimpleRouter

from market.api import ProductViewSet, WatchViewSet

router = SimpleRouter()
router.register("products", ProductViewSet, basename="product")
router.register("watches", WatchViewSet, basename="watch")
urlpatterns = router.urls
