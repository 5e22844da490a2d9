"""The OpenAPI schema generates without a warning or a guessed serializer (each /api/schema fetch used to log eight)."""

from django.core.management import call_command


def test_openapi_schema_validates_without_warnings(tmp_path):
    # --fail-on-warn turns any warning or error of the generator into a failure of the command.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")
