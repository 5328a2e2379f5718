from django.contrib import admin

from eztaskmanager.models import AppCommand, LaunchReport, Task, TaskCategory

admin.site.register(AppCommand)
admin.site.register(TaskCategory)
admin.site.register(Task)
admin.site.register(LaunchReport)
