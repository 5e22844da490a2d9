"""IoT telemetry: devices, readings, dead letters."""
