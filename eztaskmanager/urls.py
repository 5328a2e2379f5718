"""URLs of the log views, in namespace ``eztaskmanager``; the paths are those of 0.5.x."""

from django.urls import path

from eztaskmanager.web import views

app_name = "eztaskmanager"

urlpatterns = [
    path("logviewer/<int:pk>/", views.log_viewer, name="log_viewer"),
    path("livelogviewer/<int:pk>/", views.live_log_viewer, name="live_log_viewer"),
    path("read_loglines/<int:pk>/", views.ajax_read_log_lines, name="ajax_read_log_lines"),
    path("logdownload/<int:pk>/", views.download_log, name="download_log"),
    path("runstop/<int:pk>/", views.stop_run, name="stop_run"),
    path("runagain/<int:pk>/", views.run_again, name="run_again"),
]

from eztaskmanager.web.monitoring import urlpatterns as monitoring_urlpatterns  # noqa: E402

urlpatterns += monitoring_urlpatterns
