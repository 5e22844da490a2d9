"""Admin: a person corrects any judgement; the correction is kept in ``review`` and wins."""

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from imaging import services
from imaging.models import ImageRecord
from imaging.services import SITE_IDS
from imaging.stores import PostgresImageStore

TRI = [("", "(analyser's value)"), ("true", "yes"), ("false", "no")]


class ReviewForm(forms.ModelForm):
    """Review fields on top of the record: empty means "keep the analyser's judgement"."""

    review_persons = forms.IntegerField(required=False, min_value=0, label="Persons (reviewed)")
    review_has_hard_hat = forms.ChoiceField(choices=TRI, required=False, label="Hard hat (reviewed)")
    review_has_safety_vest = forms.ChoiceField(choices=TRI, required=False, label="Safety vest (reviewed)")
    review_has_inspection_equipment = forms.ChoiceField(choices=TRI, required=False, label="Inspection equipment (reviewed)")
    review_site_id = forms.ChoiceField(
        choices=[("", "(automatic)")] + [(s, s) for s in SITE_IDS], required=False, label="Site (reviewed)"
    )
    review_description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Description (reviewed)")

    class Meta:
        model = ImageRecord
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        review = self.instance.review or {}
        for key in ("persons", "site_id", "description"):
            self.fields[f"review_{key}"].initial = review.get(key)
        for key in ("has_hard_hat", "has_safety_vest", "has_inspection_equipment"):
            value = review.get(key)
            self.fields[f"review_{key}"].initial = "" if value is None else ("true" if value else "false")

    def review_changes(self) -> dict:
        data = self.cleaned_data
        changes = {
            "persons": data.get("review_persons"),
            "site_id": data.get("review_site_id") or None,
            "description": data.get("review_description") or None,
        }
        for key in ("has_hard_hat", "has_safety_vest", "has_inspection_equipment"):
            raw = data.get(f"review_{key}")
            changes[key] = None if not raw else raw == "true"
        return changes


@admin.register(ImageRecord)
class ImageRecordAdmin(admin.ModelAdmin):
    form = ReviewForm
    list_display = (
        "filename",
        "device_type",
        "site_id",
        "persons",
        "has_hard_hat",
        "has_safety_vest",
        "has_inspection_equipment",
        "compliance_score",
        "reviewed",
    )
    list_filter = ("device_type", "site_id", "reviewed", "has_hard_hat", "has_safety_vest", "has_inspection_equipment")
    search_fields = ("filename", "description")
    readonly_fields = ("preview", "filename", "path", "device_type", "site_id", "persons", "has_hard_hat", "has_safety_vest", "has_inspection_equipment", "compliance_score", "description", "keywords", "quality", "provider", "reviewed_by", "reviewed_at", "processed_at")  # fmt: skip
    fieldsets = (
        ("Image", {"fields": ("preview", "filename", "path", "device_type", "site_id", "provider", "processed_at")}),
        ("Current values", {"fields": ("persons", "has_hard_hat", "has_safety_vest", "has_inspection_equipment", "compliance_score", "description", "keywords", "quality")}),
        ("Review", {"fields": ("review_persons", "review_has_hard_hat", "review_has_safety_vest", "review_has_inspection_equipment", "review_site_id", "review_description", "reviewed_by", "reviewed_at")}),
    )  # fmt: skip

    def has_add_permission(self, request):
        return False  # records come from scan_images

    @admin.display(description="Image")
    def preview(self, obj):
        return format_html('<img src="/api/images/{}/thumbnail" style="max-height:200px">', obj.pk)

    def save_model(self, request, obj, form, change):
        # The review goes through the same service as the API so both paths recompute the score alike.
        services.image_review(
            store=PostgresImageStore(), image_id=str(obj.pk), changes=form.review_changes(), reviewer=request.user.get_username()
        )
