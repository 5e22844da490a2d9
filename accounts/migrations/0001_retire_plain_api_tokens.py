"""Retire rest_framework.authtoken: its tokens were stored in clear and never expired.

The app is no longer installed, so its table is dropped here; anyone holding such
a token gets a 401 telling them to get a new one (accounts.authentication).
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token CASCADE", reverse_sql=migrations.RunSQL.noop)]
