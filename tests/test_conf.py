import pytest
from django.test import override_settings

from eztaskmanager import conf


def test_default_when_not_set():
    assert conf.get("N_REPORTS_INLINE") == conf.DEFAULTS["N_REPORTS_INLINE"]


def test_read_at_call_time():
    with override_settings(EZTASKMANAGER_N_REPORTS_INLINE=3):
        assert conf.get("N_REPORTS_INLINE") == 3
        assert conf.settings.N_REPORTS_INLINE == 3
    assert conf.get("N_REPORTS_INLINE") == conf.DEFAULTS["N_REPORTS_INLINE"]


def test_unknown_setting_name():
    with pytest.raises(AttributeError, match="Unknown django-eztaskmanager setting"):
        conf.get("NO_SUCH_THING")


def test_system_check_reports_bad_queue_service():
    from django.core.checks import run_checks

    with override_settings(EZTASKMANAGER_QUEUE_SERVICE_TYPE="nonsense"):
        ids = [message.id for message in run_checks()]
    assert "eztaskmanager.E001" in ids
