from django.apps import AppConfig


class AlarmsConfig(AppConfig):
    name = "alarms"
    verbose_name = "Alarms: rules, lifecycle, silences, notifications"

    def ready(self) -> None:
        # Every process that stores telemetry (the consumers) or watches liveness
        # (monitor_devices) evaluates the rules: one registration, no extra worker.
        from alarms import engine

        engine.register()
