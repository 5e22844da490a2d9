"""The default rules, from the device types' normal bands (``telemetry.device_types``).

A metric rule fires at the simulator's ALERT limit (the band edge plus 45 % of
the band's width in the metric's bad direction), held for a minute, and clears
once back within the WARN limit (15 %): 30 % of the band as hysteresis. Each
type also gets a rule on its own CRITICAL state and a silence rule.
"""

from telemetry.device_types import DEVICE_TYPES

ALERT_EXCESS, WARN_EXCESS = 0.45, 0.15
WATCHED = {
    "turbine": ("exhaust_temp_c", "vibration_mm_s"),
    "thermal_engine": ("coolant_temp_c", "oil_pressure_bar"),
    "electrical_rotor": ("stator_temp_c", "bearing_temp_c"),
    "connected_device": ("methane_leak_ppm", "battery_soc_pct"),
}


def default_rules() -> list[dict]:
    rules = []
    for type_name, metric_names in WATCHED.items():
        metrics = {m.name: m for m in DEVICE_TYPES[type_name].metrics}
        for name in metric_names:
            m = metrics[name]
            width = m.high - m.low
            high = m.bad_direction > 0
            limit = round(m.high + width * ALERT_EXCESS if high else m.low - width * ALERT_EXCESS, 3)
            rules.append(
                {
                    "name": f"{type_name} {name} {'high' if high else 'low'}",
                    "device_type": type_name,
                    "kind": "metric",
                    "metric": name,
                    "operator": "gt" if high else "lt",
                    "high": limit if high else None,
                    "low": None if high else limit,
                    "hysteresis": round(width * (ALERT_EXCESS - WARN_EXCESS), 3),
                    "for_s": 60.0,
                    "severity": "major",
                }
            )
        rules.append(
            {
                "name": f"{type_name} critical state",
                "device_type": type_name,
                "kind": "state",
                "states": "CRITICAL",
                "severity": "critical",
            }
        )
        rules.append({"name": f"{type_name} silent", "device_type": type_name, "kind": "silence", "severity": "warning"})
    return rules
