from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="ReceiverRun",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("notification_id", models.IntegerField()),
                ("order_id", models.CharField(max_length=64)),
                ("replay", models.BooleanField()),
                ("pid", models.IntegerField()),
            ],
        ),
    ]
