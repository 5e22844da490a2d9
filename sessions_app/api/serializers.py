"""Input and output serializers of the sessions API."""

from rest_framework import serializers

from sessions_app.models import ConnectionStatus, SiteSnapshot, UserSession
from tier0site.api import PAGINATION_PARAMS, identifier


class SessionFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ConnectionStatus.values, required=False)
    region = serializers.CharField(required=False, validators=[identifier])
    site_id = serializers.CharField(required=False, validators=[identifier])

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields) - PAGINATION_PARAMS)
        if unknown:
            raise serializers.ValidationError(f"unknown filter {', '.join(unknown)}; use {', '.join(self.fields)}")
        return attrs


class UserSessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = UserSession
        fields = [
            "user_id",
            "username",
            "session_id",
            "connection_status",
            "region",
            "ip_address",
            "site_id",
            "login_time",
            "logout_time",
            "last_activity",
            "last_event",
            "last_event_at",
        ]


class SiteSnapshotSerializer(serializers.ModelSerializer):
    metrics = serializers.SerializerMethodField()
    active_users_list = serializers.SerializerMethodField()
    queue_metadata = serializers.SerializerMethodField()

    class Meta:
        model = SiteSnapshot
        fields = ["message_id", "site_id", "timestamp_utc", "metrics", "active_users_list", "queue_metadata", "received_at"]

    def get_metrics(self, snapshot) -> dict:
        return {
            "active_users": snapshot.active_users,
            "active_connections": snapshot.active_connections,
            "server_cpu_pct": snapshot.server_cpu_pct,
            "server_memory_gb": snapshot.server_memory_gb,
            "average_latency_ms": snapshot.average_latency_ms,
        }

    def get_active_users_list(self, snapshot) -> list:
        return snapshot.payload.get("active_users_list", [])

    def get_queue_metadata(self, snapshot) -> dict:
        return snapshot.payload.get("queue_metadata", {})


class LoggedOnUserSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    username = serializers.CharField()
    session_id = serializers.CharField()
    region = serializers.CharField()
    site_id = serializers.CharField()
    connection_status = serializers.ChoiceField(choices=ConnectionStatus.values)
    login_time = serializers.DateTimeField(allow_null=True)
    online_seconds = serializers.IntegerField(allow_null=True)


class SummarySerializer(serializers.Serializer):
    """The ``SRE_User`` value (documentation of the response; the view returns it as stored)."""

    concurrent_users = serializers.IntegerField(help_text="distinct users with an active or idle session")
    active_users = serializers.IntegerField(help_text="distinct users with an active session")
    active_sessions = serializers.IntegerField()
    active_connections = serializers.IntegerField(help_text="sum over each site's latest snapshot")
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_region = serializers.DictField(child=serializers.DictField(child=serializers.IntegerField()))
    users = LoggedOnUserSerializer(many=True)
    users_total = serializers.IntegerField()
    users_truncated = serializers.BooleanField()
    generated_at = serializers.DateTimeField()
    source = serializers.ChoiceField(choices=["redis", "database"])
