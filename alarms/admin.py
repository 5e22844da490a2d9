from django.contrib import admin, messages

from alarms.models import Alarm, AlarmRule, AlarmTransition, Delivery, NotificationOutbox, Receiver, Silence
from alarms.services import AlarmError, alarm_acknowledge, rule_retire, rule_states_lock


@admin.register(AlarmRule)
class AlarmRuleAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "device_type",
        "kind",
        "metric",
        "operator",
        "low",
        "high",
        "hysteresis",
        "for_s",
        "severity",
        "enabled",
    )
    list_filter = ("device_type", "kind", "severity", "enabled")
    search_fields = ("name", "metric", "site_id", "device_id")

    def save_model(self, request, obj, form, change):
        """Disabling a rule clears its open alarms ("rule disabled"), as the API does."""
        was_enabled = change and AlarmRule.objects.filter(pk=obj.pk, enabled=True).exists()
        if was_enabled and not obj.enabled:
            rule_states_lock(obj.pk)  # before the rule row (the admin's save runs in one transaction)
        super().save_model(request, obj, form, change)
        if was_enabled and not obj.enabled:
            cleared = rule_retire(rule_id=obj.pk, user=request.user)
            self.message_user(request, f"{len(cleared)} open alarm(s) of the rule cleared (rule disabled).", messages.INFO)


class TransitionInline(admin.TabularInline):
    model = AlarmTransition
    extra = 0
    readonly_fields = ("action", "at", "user", "comment")
    can_delete = False


@admin.register(Alarm)
class AlarmAdmin(admin.ModelAdmin):
    list_display = (
        "rule",
        "device_id",
        "site_id",
        "severity",
        "active",
        "acknowledged",
        "count",
        "last_value",
        "first_at",
        "last_at",
    )
    list_filter = ("active", "acknowledged", "severity", "site_id")
    search_fields = ("device_id", "rule__name")
    readonly_fields = [f.name for f in Alarm._meta.fields]
    inlines = [TransitionInline]
    actions = ["acknowledge"]

    @admin.action(description="Acknowledge the selected alarms")
    def acknowledge(self, request, queryset):
        done = 0
        for alarm_id in queryset.filter(acknowledged=False).values_list("id", flat=True):
            try:
                alarm_acknowledge(alarm_id=alarm_id, user=request.user, comment="acknowledged in the admin")
                done += 1
            except AlarmError:
                pass  # acknowledged meanwhile by someone else
        self.message_user(request, f"{done} alarm(s) acknowledged.", messages.SUCCESS)


@admin.register(Silence)
class SilenceAdmin(admin.ModelAdmin):
    list_display = ("reason", "rule", "site_id", "device_id", "starts_at", "ends_at", "created_by")
    list_filter = ("site_id",)


@admin.register(Receiver)
class ReceiverAdmin(admin.ModelAdmin):
    list_display = ("name", "webhook_url", "email", "min_severity", "sites", "enabled")


class DeliveryInline(admin.TabularInline):
    model = Delivery
    extra = 0
    readonly_fields = ("attempt", "at", "ok", "status_code", "error", "duration_ms")
    can_delete = False


@admin.register(NotificationOutbox)
class NotificationOutboxAdmin(admin.ModelAdmin):
    list_display = ("key", "alarm", "receiver", "event", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "event", "receiver")
    readonly_fields = [f.name for f in NotificationOutbox._meta.fields]
    inlines = [DeliveryInline]
