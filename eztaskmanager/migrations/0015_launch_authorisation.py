"""What a launch runs (and whether a retry of it was planned) is recorded on its report; who
may decide what a task runs is recorded on the task (held, approved) instead of being read back
from the admin history; the package's own actors are marked by a row only code creates.

The data step derives the new fields once from the history, as the rules of 0.6 read it:

* a task is held when the latest schedule entry of its history is the hold message (it waits,
  unscheduled, for somebody with the launch permission to save it), or when its command or
  arguments were last changed by somebody who may not launch tasks and nobody who may has
  acted on the task since (the rule follow-ups read);
* an existing ``eztaskmanager-<name>`` user of the package's own processes (inactive, with no
  usable password, never logged in, neither staff nor superuser) becomes the actor it stands
  for.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import migrations, models
from django.db.models import Q

OLD_HELD = "Unscheduled: command or arguments changed without the launch permission."
SCHEDULE_ENTRIES = ("Scheduled", "Stopped", "Unscheduled")
RUN_CHANGES = ("Command changed from", "Arguments changed from")
ACTOR_NAMES = ("scheduler", "cli", "api", "follow-up")
APPROVAL_WINDOW = 50


def may_launch(user, Permission) -> bool:
    """The launch permission of a user, read from the tables (no auth backend here)."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    granted = Permission.objects.filter(
        content_type__app_label="eztaskmanager", codename="launch_task"
    )
    return granted.filter(Q(user=user) | Q(group__user=user)).exists()


def derive(apps, schema_editor):
    Task = apps.get_model("eztaskmanager", "Task")
    InternalActor = apps.get_model("eztaskmanager", "InternalActor")
    app_label, model_name = settings.AUTH_USER_MODEL.split(".")
    User = apps.get_model(app_label, model_name)
    username_field = get_user_model().USERNAME_FIELD
    actors = {}
    for name in ACTOR_NAMES:
        user = User._default_manager.filter(
            **{username_field: f"eztaskmanager-{name}"}
        ).first()
        if (
            user is not None
            and not user.is_active
            and not getattr(user, "is_staff", False)
            and not getattr(user, "is_superuser", False)
            and user.last_login is None
            and (user.password or "").startswith("!")
        ):
            InternalActor.objects.create(name=name, user=user)
            actors[user.pk] = name
    if not Task.objects.exists():
        return
    try:
        LogEntry = apps.get_model("admin", "LogEntry")
        ContentType = apps.get_model("contenttypes", "ContentType")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # no admin history to read
        return
    content_type = ContentType.objects.filter(app_label="eztaskmanager", model="task").first()
    if content_type is None:
        return
    trusted = {}

    def is_trusted(user) -> bool:
        if user.pk not in trusted:
            trusted[user.pk] = user.pk in actors or may_launch(user, Permission)
        return trusted[user.pk]

    for task in Task.objects.all().iterator():
        entries = LogEntry.objects.filter(content_type=content_type, object_id=str(task.pk))
        held = held_entry(task, entries) or changed_entry(entries, is_trusted)
        if held is not None:
            Task.objects.filter(pk=task.pk).update(
                held_since=held.action_time,
                held_by=str(getattr(held.user, username_field, ""))[:150],
            )


def held_entry(task, entries):
    """The hold entry when the task waits, unscheduled, as 0.6's ``permissions.is_held`` read."""
    scheduled = bool(
        task.scheduling or task.cron_expression or (task.repetition_period and task.repetition_rate)
    )
    if task.scheduled_job_id or not scheduled:
        return None
    about_schedule = Q()
    for start in SCHEDULE_ENTRIES:
        about_schedule |= Q(change_message__startswith=start)
    latest = entries.filter(about_schedule).select_related("user").order_by("-action_time", "-pk")
    latest = latest.first()
    return latest if latest is not None and latest.change_message == OLD_HELD else None


def changed_entry(entries, is_trusted):
    """The unapproved change of command or arguments, as 0.6's follow-ups read it."""
    changes = entries.filter(
        Q(change_message__startswith=RUN_CHANGES[0]) | Q(change_message__startswith=RUN_CHANGES[1])
    )
    change = changes.select_related("user").order_by("-action_time", "-pk").first()
    if change is None or is_trusted(change.user):
        return None
    later = entries.filter(pk__gt=change.pk).select_related("user").order_by("pk")
    if any(is_trusted(entry.user) for entry in later[:APPROVAL_WINDOW]):
        return None
    return change


class Migration(migrations.Migration):

    dependencies = [
        ('eztaskmanager', '0014_task_schedule_enabled'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='launchreport',
            name='command',
            field=models.ForeignKey(blank=True, help_text='The command this run was launched with.', null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='eztaskmanager.appcommand', verbose_name='command'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='command_name',
            field=models.CharField(blank=True, default='', max_length=100, verbose_name='command name'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='legacy_arguments',
            field=models.BooleanField(default=False, help_text='The run read its arguments as version 0.5 did.', verbose_name='0.5.x argument rule'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='run_arguments',
            field=models.TextField(blank=True, help_text='The arguments this run was launched with.', null=True, verbose_name='arguments run'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='queue',
            field=models.CharField(blank=True, default='', max_length=100, verbose_name='queue'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='retry_delays',
            field=models.CharField(blank=True, default='', max_length=200, verbose_name='retry delays (s)'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='retry_exponential',
            field=models.BooleanField(default=False, verbose_name='exponential backoff'),
        ),
        migrations.AddField(
            model_name='launchreport',
            name='retry_planned',
            field=models.BooleanField(blank=True, null=True, verbose_name='retry planned'),
        ),
        migrations.AddField(
            model_name='task',
            name='approved_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='approved at'),
        ),
        migrations.AddField(
            model_name='task',
            name='approved_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='approved by'),
        ),
        migrations.AddField(
            model_name='task',
            name='held_by',
            field=models.CharField(blank=True, default='', editable=False, max_length=150, verbose_name='held by'),
        ),
        migrations.AddField(
            model_name='task',
            name='held_since',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='held since'),
        ),
        migrations.CreateModel(
            name='InternalActor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=50, unique=True)),
                ('user', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='eztaskmanager_actor', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'internal actor',
                'verbose_name_plural': 'internal actors',
            },
        ),
        migrations.RunPython(derive, migrations.RunPython.noop),
    ]
