from django.urls import path

from dashboard.api.views import SimulateUserTrafficApi
from dashboard.views import DashboardView

urlpatterns = [
    path("", DashboardView.as_view(), name="dashboard"),
    path("dashboard/simulate-user-traffic", SimulateUserTrafficApi.as_view(), name="dashboard-simulate-user-traffic"),
]
