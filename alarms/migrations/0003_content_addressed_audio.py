"""Audio addressed by what made it: AudioClip rows that briefings refer to (the file is
shared, the signed link stays per briefing), the daily spend per speech engine, and the
staff alert rule "speech-budget". Existing briefing files become one clip each (their
makers are unknown: keyed by their storage name), so links keep working."""

import hashlib

import django.db.models.deletion
from django.db import migrations, models


def audio_to_clips(apps, schema_editor):
    Briefing = apps.get_model("alarms", "Briefing")
    AudioClip = apps.get_model("alarms", "AudioClip")
    rows = Briefing.objects.exclude(audio="").values_list("pk", "audio", "engine", "duration_ms")
    for pk, name, engine, duration in rows.iterator():
        key = hashlib.sha256(f"legacy:{name}".encode()).hexdigest()
        clip, _ = AudioClip.objects.get_or_create(
            key=key, defaults={"file": name, "engine": engine[:32], "duration_ms": duration}
        )
        Briefing.objects.filter(pk=pk).update(clip=clip)


def clips_to_audio(apps, schema_editor):
    Briefing = apps.get_model("alarms", "Briefing")
    for briefing in Briefing.objects.filter(clip__isnull=False).select_related("clip"):
        Briefing.objects.filter(pk=briefing.pk).update(audio=briefing.clip.file.name)


def add_budget_rule(apps, schema_editor):
    AlertRule = apps.get_model("syncing", "AlertRule")
    AlertRule.objects.get_or_create(
        key="speech-budget",
        defaults={
            "name": "Speech engine near its daily budget",
            "metric": "app_check",
            # Percent of a daily budget; a briefing sent to the next engine fires it too.
            "threshold": 80.0,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("alarms", "0002_tier_named_after_interval"),
        ("syncing", "0007_alert_rule_app_check"),
    ]

    operations = [
        migrations.CreateModel(
            name="AudioClip",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "key",
                    models.CharField(
                        help_text="sha256 of what made it.", max_length=64, unique=True
                    ),
                ),
                ("file", models.FileField(max_length=255, upload_to="")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("briefing", "Briefing"),
                            ("section", "Section (shared for a day)"),
                            ("chime", "Chime"),
                        ],
                        default="briefing",
                        max_length=16,
                    ),
                ),
                ("engine", models.CharField(blank=True, default="", max_length=32)),
                (
                    "characters",
                    models.PositiveIntegerField(default=0, help_text="Length of the text spoken."),
                ),
                ("size", models.PositiveIntegerField(default=0, help_text="Bytes stored.")),
                ("duration_ms", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("keep_until", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "indexes": [models.Index(fields=["kind", "keep_until"], name="alarms_clip_keep")],
            },
        ),
        migrations.AddField(
            model_name="briefing",
            name="clip",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="briefings",
                to="alarms.audioclip",
            ),
        ),
        migrations.RunPython(audio_to_clips, clips_to_audio),
        migrations.RemoveField(
            model_name="briefing",
            name="audio",
        ),
        migrations.RunPython(add_budget_rule, migrations.RunPython.noop),
        migrations.CreateModel(
            name="SpeechSpend",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField()),
                ("engine", models.CharField(max_length=32)),
                ("characters", models.BigIntegerField(default=0)),
                ("requests", models.PositiveIntegerField(default=0)),
                (
                    "fallbacks",
                    models.PositiveIntegerField(
                        default=0,
                        help_text="Briefings sent past this engine, near its budget.",
                    ),
                ),
            ],
            options={
                "ordering": ["-day", "engine"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("day", "engine"), name="alarms_speech_spend_day"
                    )
                ],
            },
        ),
    ]
