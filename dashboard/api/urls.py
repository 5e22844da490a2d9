from django.urls import path

from dashboard.api.views import SimulateUserTrafficApi

urlpatterns = [
    path("dashboard/simulate-user-traffic", SimulateUserTrafficApi.as_view(), name="dashboard-simulate-user-traffic"),
]
