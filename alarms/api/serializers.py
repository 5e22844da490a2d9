from rest_framework import serializers

from alarms.models import Alarm, AlarmRule, AlarmTransition, Receiver, Severity, Silence
from alarms.selectors import STATES
from telemetry.device_types import DEVICE_TYPES
from telemetry.device_types import STATES as DEVICE_STATES
from tier0site.api import BoundedDateTimeField, identifier


class AlarmFilterSerializer(serializers.Serializer):
    site_id = serializers.CharField(required=False, validators=[identifier])
    device_id = serializers.CharField(required=False, validators=[identifier])
    severity = serializers.ChoiceField(Severity.choices, required=False)
    state = serializers.ChoiceField(STATES, required=False)
    rule = serializers.IntegerField(min_value=1, required=False)
    group = serializers.ChoiceField(["site_rule"], required=False)


class TransitionSerializer(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username", default=None)

    class Meta:
        model = AlarmTransition
        fields = ["action", "at", "user", "comment"]


class AlarmSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.name")
    acknowledged_by = serializers.CharField(source="acknowledged_by.username", default=None)
    status = serializers.CharField()

    class Meta:
        model = Alarm
        fields = [
            "id",
            "rule",
            "rule_id",
            "device_id",
            "device_type",
            "site_id",
            "severity",
            "status",
            "active",
            "acknowledged",
            "count",
            "last_value",
            "detail",
            "first_at",
            "last_at",
            "cleared_at",
            "acknowledged_at",
            "acknowledged_by",
        ]


class AlarmDetailSerializer(AlarmSerializer):
    transitions = TransitionSerializer(many=True)

    class Meta(AlarmSerializer.Meta):
        fields = [*AlarmSerializer.Meta.fields, "transitions"]


class AckSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AlarmRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlarmRule
        fields = [
            "id",
            "name",
            "device_type",
            "site_id",
            "device_id",
            "kind",
            "metric",
            "operator",
            "low",
            "high",
            "hysteresis",
            "states",
            "for_s",
            "severity",
            "enabled",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        merged = {
            **({f: getattr(self.instance, f) for f in self.Meta.fields if hasattr(self.instance, f)} if self.instance else {}),
            **attrs,
        }
        kind_ = merged.get("kind", AlarmRule.Kind.METRIC)
        device_type = DEVICE_TYPES.get(merged.get("device_type"))
        if device_type is None:
            raise serializers.ValidationError({"device_type": f"unknown device type; one of {sorted(DEVICE_TYPES)}"})
        if merged.get("hysteresis", 0) < 0 or merged.get("for_s", 0) < 0:
            raise serializers.ValidationError("hysteresis and for_s must not be negative")
        if kind_ == AlarmRule.Kind.METRIC:
            self._validate_metric(merged, device_type)
        if kind_ == AlarmRule.Kind.STATE:
            states = {s.strip().upper() for s in (merged.get("states") or "").split(",") if s.strip()}
            if not states or not states <= set(DEVICE_STATES):
                raise serializers.ValidationError({"states": f"comma-separated device states among {list(DEVICE_STATES)}"})
        return attrs

    @staticmethod
    def _validate_metric(rule: dict, device_type) -> None:
        if rule.get("metric") not in device_type.metric_names:
            raise serializers.ValidationError(
                {"metric": f"not a {device_type.name} metric; one of {sorted(device_type.metric_names)}"}
            )
        operator, low, high = rule.get("operator"), rule.get("low"), rule.get("high")
        needs = {"gt": (high,), "lt": (low,), "outside": (low, high)}.get(operator)
        if needs is None:
            raise serializers.ValidationError({"operator": "one of gt, lt, outside"})
        if any(v is None for v in needs):
            raise serializers.ValidationError("gt needs high, lt needs low, outside needs low and high")
        if operator == "outside" and low >= high:
            raise serializers.ValidationError("outside needs low < high")


class SilenceSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)
    starts_at = BoundedDateTimeField()
    ends_at = BoundedDateTimeField()
    site_id = serializers.CharField(required=False, allow_blank=True, default="", validators=[identifier])
    device_id = serializers.CharField(required=False, allow_blank=True, default="", validators=[identifier])

    class Meta:
        model = Silence
        fields = ["id", "rule", "site_id", "device_id", "starts_at", "ends_at", "reason", "created_by", "created_at"]


class ReceiverSerializer(serializers.ModelSerializer):
    """A receiver; its HMAC ``secret`` is write-only (``has_secret`` tells whether one is set)."""

    secret = serializers.CharField(max_length=200, required=False, allow_blank=True, write_only=True, trim_whitespace=False)
    has_secret = serializers.SerializerMethodField()
    sites = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    class Meta:
        model = Receiver
        fields = ["id", "name", "webhook_url", "secret", "has_secret", "email", "min_severity", "sites", "enabled"]

    def get_has_secret(self, receiver: Receiver) -> bool:
        return bool(receiver.secret)

    def validate_sites(self, value: str) -> str:
        sites = [s.strip() for s in value.split(",") if s.strip()]
        for site in sites:
            identifier(site)
        return ",".join(sites)

    def validate(self, attrs):
        merged = {f: getattr(self.instance, f) for f in ("webhook_url", "email", "secret")} if self.instance else {}
        merged.update(attrs)
        if not merged.get("webhook_url") and not merged.get("email"):
            raise serializers.ValidationError("a receiver needs a webhook_url, an email or both")
        if merged.get("webhook_url") and not merged.get("secret"):
            raise serializers.ValidationError({"secret": "a webhook receiver needs an HMAC secret (or env:NAME)"})
        return attrs
