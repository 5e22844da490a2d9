"""The four device types: their metrics, normal operating ranges and status codes.

Metric names follow the seed templates (``seed-data/templates/*_sample.json``);
ranges are the band a healthy device drifts in, with the WARN and ALERT limits
the simulator crosses and the dashboard colours by.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Metric:
    name: str
    low: float
    high: float
    decimals: int = 1
    # The direction in which the metric goes bad (+1: too high, -1: too low).
    bad_direction: int = 1


@dataclass(frozen=True)
class DeviceType:
    name: str
    id_prefix: str
    code_prefix: str
    metrics: tuple[Metric, ...]
    tags: dict = field(default_factory=dict)
    firmware: tuple[str, ...] = ()

    @property
    def metric_names(self) -> frozenset[str]:
        return frozenset(m.name for m in self.metrics)


DEVICE_TYPES: dict[str, DeviceType] = {
    t.name: t
    for t in (
        DeviceType(
            "turbine",
            "TURB",
            "TURB",
            (
                Metric("rpm", 3300, 3600, 0),
                Metric("inlet_temp_c", 380, 430),
                Metric("exhaust_temp_c", 500, 560),
                Metric("vibration_mm_s", 1.0, 3.0),
                Metric("pressure_bar", 16, 19),
                Metric("power_kw", 11000, 14000),
                Metric("fuel_flow_kg_h", 380, 460),
                Metric("no_x_ppm", 25, 40),
            ),
            {"vendor": ("HanTech", "Siemens", "GE"), "loop": ("A1", "A2", "B1")},
            ("3.2.1", "3.2.0", "3.1.4"),
        ),
        DeviceType(
            "thermal_engine",
            "THRM",
            "THRM",
            (
                Metric("rpm", 1700, 1950, 0),
                Metric("coolant_temp_c", 82, 95),
                Metric("oil_temp_c", 90, 105),
                Metric("oil_pressure_bar", 4.0, 5.5, 1, -1),
                Metric("load_pct", 50, 85),
                Metric("fuel_rate_l_h", 130, 175),
                Metric("soot_pct", 0.2, 0.9),
            ),
            {"skid": ("TE-03", "TE-07", "TE-11"), "phase": ("commissioned", "maintenance")},
            ("1.9.0", "1.8.7"),
        ),
        DeviceType(
            "electrical_rotor",
            "EROT",
            "ER",
            (
                Metric("stator_temp_c", 75, 95),
                Metric("bearing_temp_c", 65, 82),
                Metric("current_a", 280, 340),
                Metric("voltage_v", 405, 425),
                Metric("power_factor", 0.90, 0.97, 2, -1),
                Metric("vibration_mm_s", 0.8, 2.0),
            ),
            {"panel": ("MCC-1", "MCC-2"), "line": ("R1", "R2", "R3")},
            ("2.4.5", "2.4.1"),
        ),
        DeviceType(
            "connected_device",
            "OGC",
            "GW",
            (
                Metric("wellhead_pressure_bar", 120, 145),
                Metric("wellhead_temp_c", 60, 75),
                Metric("flow_rate_m3_h", 70, 95),
                Metric("methane_leak_ppm", 0.5, 4.0),
                Metric("battery_soc_pct", 60, 100, 1, -1),
                Metric("rssi_dbm", -85, -60, 0, -1),
            ),
            {"network": ("LTE", "LoRa", "Sat"), "ingress": ("MQTT-1", "MQTT-2")},
            ("5.0.3", "5.0.1"),
        ),
    )
}

# Device states in order of severity; ALERT and CRITICAL are alarms. A state
# outside these is stored as UNKNOWN (and counted in the drift view), never refused.
STATES = ("OK", "WARN", "ALERT", "CRITICAL")
UNKNOWN_STATE = "UNKNOWN"
ALL_STATES = (*STATES, UNKNOWN_STATE)
ALARM_STATES = frozenset({"ALERT", "CRITICAL"})
# States the dashboard shows as they arrive (live alerts).
NOTABLE_STATES = frozenset({"WARN", "ALERT", "CRITICAL"})

# Ten field sites with their coordinates (the seed names four of them).
SITES: dict[str, tuple[float, float]] = {
    "WY-ALPHA": (43.4231, -106.3148),
    "TX-EAGLE": (31.2319, -101.8752),
    "NM-SAGE": (34.4217, -106.1081),
    "ND-RAVEN": (48.3992, -102.7810),
    "OK-BISON": (35.4676, -97.5164),
    "CO-PEAK": (39.5501, -105.7821),
    "LA-DELTA": (30.9843, -91.9623),
    "CA-COAST": (35.3733, -119.0187),
    "AK-NORTH": (70.2002, -148.4597),
    "PA-RIDGE": (41.2033, -77.1945),
}
