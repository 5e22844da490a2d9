"""Prometheus figures read from the database at scrape time (the web's /metrics, ``tier0site.metrics.SCRAPE_TIME``).

``tier0_alarms_active{severity,site}``, the outbox by status and the delivery
log's attempts; the notifier's own process also counts its attempts
(``tier0_alarm_notifications_total``) on its ``--metrics-port``.
"""

import logging

from django.db.models import Count
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from alarms.models import Delivery, NotificationOutbox
from alarms.selectors import active_counts

logger = logging.getLogger(__name__)


def _families():
    return (
        GaugeMetricFamily("tier0_alarms_active", "Active alarms", labels=["severity", "site"]),
        GaugeMetricFamily("tier0_alarm_outbox", "Notifications in the outbox by status", labels=["status"]),
        CounterMetricFamily("tier0_alarm_deliveries", "Notification delivery attempts logged", labels=["ok"]),
    )


class AlarmCollector:
    def describe(self):
        # Without it prometheus_client calls collect() at registration: a query at import time.
        return list(_families())

    def collect(self):
        active, outbox, deliveries = _families()
        try:
            for row in active_counts():
                active.add_metric([row["severity"], row["site_id"]], row["count"])
            for row in NotificationOutbox.objects.order_by().values("status").annotate(n=Count("id")):
                outbox.add_metric([row["status"]], row["n"])
            for row in Delivery.objects.order_by().values("ok").annotate(n=Count("id")):
                deliveries.add_metric([str(row["ok"]).lower()], row["n"])
        except Exception:
            logger.warning("alarm metrics unavailable", exc_info=True)
        yield active
        yield outbox
        yield deliveries


_COLLECTOR = AlarmCollector()


def register() -> None:
    """Once per process, into the web's scrape-time registry (the URLconf imports it)."""
    from tier0site.metrics import SCRAPE_TIME

    if _COLLECTOR not in SCRAPE_TIME._collector_to_names:
        SCRAPE_TIME.register(_COLLECTOR)
