from django.urls import path

from alarms import metrics
from alarms.api import views

# The web process serves /metrics: the alarm figures are read from the database at each scrape.
metrics.register()

urlpatterns = [
    path("alarms", views.AlarmListApi.as_view(), name="alarm-list"),
    path("alarms/<int:pk>", views.AlarmDetailApi.as_view(), name="alarm-detail"),
    path("alarms/<int:pk>/ack", views.AlarmAckApi.as_view(), name="alarm-ack"),
    path("alarm-rules", views.AlarmRuleListApi.as_view(), name="alarm-rule-list"),
    path("alarm-rules/<int:pk>", views.AlarmRuleDetailApi.as_view(), name="alarm-rule-detail"),
    path("silences", views.SilenceListApi.as_view(), name="silence-list"),
    path("silences/<int:pk>", views.SilenceDetailApi.as_view(), name="silence-detail"),
    path("receivers", views.ReceiverListApi.as_view(), name="receiver-list"),
    path("receivers/<int:pk>", views.ReceiverDetailApi.as_view(), name="receiver-detail"),
]
