"""Reads: the region serving now, the topology's layout, failover history.

Database and file reads only; live probes of the servers are in ``failover.probes``.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import DatabaseError

from failover.models import ActiveRegion, FailoverEvent
from failover.nodes import Topology

logger = logging.getLogger(__name__)


def active_region() -> str | None:
    """The region serving now after a failover, or None when there is no failover state."""
    try:
        return ActiveRegion.objects.filter(pk=ActiveRegion.SINGLETON_ID).values_list("region", flat=True).first()
    except DatabaseError:
        # Tables not migrated yet, or the database is failing over: fall back to the setting.
        logger.warning("active region unknown", exc_info=True)
        return None


def current_region() -> str:
    """The region serving now: the last failover's target, else ``DEPLOYMENT_REGION``."""
    return active_region() or settings.DEPLOYMENT_REGION


def topology_get(root: str | None = None) -> Topology:
    """The topology ``ha_up`` started (``HA_DATA_DIR``); TopologyError when there is none."""
    return Topology.load(root or settings.HA_DATA_DIR)


def failover_event_list():
    return FailoverEvent.objects.all()


def failover_last():
    return FailoverEvent.objects.exclude(kind=FailoverEvent.Kind.REBUILD).filter(status=FailoverEvent.Status.COMPLETED).first()


def failover_last_dict() -> dict | None:
    try:
        last = failover_last()
    except DatabaseError:
        logger.warning("failover history unavailable", exc_info=True)
        return None
    if last is None:
        return None
    return {
        "id": last.id,
        "kind": last.kind,
        "source_region": last.source_region,
        "target_region": last.target_region,
        "total_time": last.total_s,
        "tier0_compliant": last.total_s < 5,
        "timestamp": last.finished_at.isoformat(),
    }
