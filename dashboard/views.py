"""The dashboard page: server-rendered shell, filled and kept live by dashboard.js."""

from django.conf import settings
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import DatabaseError
from django.urls import reverse
from django.views.generic import TemplateView

from alarms.selectors import active_by_severity
from telemetry.device_types import ALL_STATES, DEVICE_TYPES, SITES
from tier0site.health import deployment_version, health_report

# The wireframe's names for the four device types ("Sensor Device List").
DEVICE_TYPE_LABELS = {
    "turbine": "Turbines",
    "thermal_engine": "Thermal Engines",
    "electrical_rotor": "Electrical Rotors",
    "connected_device": "Oil & Gas Connected Devices",
}

# The wireframe's panels, in its order; "staff" panels are hidden from everyone else.
# Each with the short label a phone shows, so the tab bar stays one row at 390 px.
PANELS = (
    ("version", "Deployment Version", "Version", False),
    ("users", "Site Active Users", "Users", False),
    ("devices", "Active Connected Devices", "Devices", False),
    ("images", "Site Image Intelligence", "Images", False),
    ("failover", "Simulate Failover", "Failover", True),
)

# The wireframe's example questions (the image panel and the chat prompts).
EXAMPLE_QUESTIONS = (
    "Give me turbine site that has workers without hats?",
    "Give me turbine site that has workers with high safety?",
    "Get site with engineer with hat and tablet in the hand?",
    "How many safety incidence in BP operations in year 2024?",
    "Describe BP Oil Drill Operations and Hard Hat requirements.",
    "Give me most frequent IP devices that are generating error 400?",
)


def application_status(report: dict) -> str:
    if report["status"] == "ok":
        return "Live"
    return "Degraded (failing: " + ", ".join(report["failing"]) + ")"


def alarm_counts() -> dict | None:
    """Active alarms per severity for the header; None (no header counts) while the database is away."""
    try:
        return active_by_severity()
    except DatabaseError:
        return None


class DashboardView(LoginRequiredMixin, TemplateView):
    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        report = health_report()
        config = {
            "user": user.get_username(),
            "staff": user.is_staff,
            "wsPath": "/ws/live/",
            "sites": list(SITES),
            "states": list(ALL_STATES),
            "deviceTypes": {
                name: {"label": DEVICE_TYPE_LABELS.get(name, name), "metrics": len(t.metrics)} for name, t in DEVICE_TYPES.items()
            },
            "regions": list(settings.DASHBOARD_REGIONS),
            "api": {"simulateUserTraffic": reverse("dashboard-simulate-user-traffic")},
        }
        return super().get_context_data(
            **kwargs,
            panels=[(key, title, short) for key, title, short, staff_only in PANELS if user.is_staff or not staff_only],
            status=application_status(report),
            healthy=report["status"] == "ok",
            version=deployment_version(),
            examples=EXAMPLE_QUESTIONS,
            device_type_labels=DEVICE_TYPE_LABELS,
            sites=list(SITES),
            offline_after_s=int(settings.DEVICE_OFFLINE_AFTER_S),
            config=config,
            alarm_counts=alarm_counts(),
        )
