"""The translation catalogues: complete, compiled, and used by every page of the package."""

from __future__ import annotations

import gettext
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

from eztaskmanager import operations
from tests.po import read_po

PACKAGE = Path(__file__).resolve().parent.parent / "eztaskmanager"
LANGUAGES = sorted(p.name for p in (PACKAGE / "locale").iterdir() if p.is_dir())
# Not "alt": Django's own admin templates write alt="Search" untranslated.
ATTRIBUTES = ("title", "placeholder", "aria-label")


def catalogue(language: str) -> Path:
    return PACKAGE / "locale" / language / "LC_MESSAGES" / "django.po"


def entries(language: str):
    return [entry for entry in read_po(catalogue(language)) if entry.msgid]


def test_italian_is_shipped():
    assert "it" in LANGUAGES


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_is_translated(language):
    for entry in entries(language):
        assert "fuzzy" not in entry.flags, entry.msgid
        forms = entry.msgstr.values()
        assert forms and all(form.strip() for form in forms), f"untranslated: {entry.msgid!r}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_compiled_catalogue_matches_the_po(language):
    """The committed .mo says what the .po says (run compilemessages after editing it)."""
    with open(catalogue(language).with_suffix(".mo"), "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    for entry in entries(language):
        if entry.msgid_plural:
            for n, index in ((1, 0), (2, 1)):
                got = compiled.ngettext(entry.msgid, entry.msgid_plural, n)
                assert got == entry.msgstr[index], entry.msgid
        else:
            assert compiled.gettext(entry.msgid) == entry.msgstr[0], entry.msgid


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs GNU gettext (xgettext)")
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_marked_string_is_in_the_catalogue(language, tmp_path):
    """makemessages on a copy of the package finds no string the catalogue lacks."""
    copy = tmp_path / "eztaskmanager"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", language, "--no-obsolete"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": ""},
    )
    extracted = {
        entry.msgid for entry in read_po(copy / "locale" / language / "LC_MESSAGES" / "django.po")
    }
    shipped = {entry.msgid for entry in entries(language)}
    assert extracted - {""} <= shipped, sorted(extracted - shipped)


# -- pages rendered in Italian -----------------------------------------------------------------


class Texts(HTMLParser):
    """The text a reader sees: text nodes, a few attributes, and JSON handed to scripts."""

    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self._json = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._json = tag == "script" and attrs.get("type") == "application/json"
        self.texts.extend(attrs[name] for name in ATTRIBUTES if attrs.get(name))
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.texts.append(attrs["value"])

    def handle_endtag(self, tag):
        self._json = False

    def handle_data(self, data):
        if self._json:
            value = json.loads(data)
            self.texts.extend(v for v in value.values() if isinstance(v, str))
        elif data.strip():
            self.texts.append(" ".join(data.split()))


def english_patterns(language: str) -> list[tuple[str, re.Pattern]]:
    """A pattern for each English message whose translation differs (placeholders as .+)."""
    patterns = []
    for entry in entries(language):
        for english in filter(None, (entry.msgid, entry.msgid_plural)):
            if english in entry.msgstr.values():
                continue  # the same word in both languages ("Task", "log", "Redis")
            placeholder = r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?([sdfr])|%([sd])"
            pieces = re.split(placeholder, english)[::3]
            kinds = [a or b for a, b in re.findall(placeholder, english)]
            if len("".join(pieces).replace(" ", "")) < 4:
                continue  # mostly placeholders ("%(every)s at %(time)s"): it would match anything
            # Blanks around a placeholder stay: "%(a)s at %(b)s" must not match "laterale". A
            # number placeholder (%d) matches a number only: "%(n)d warning" is not "level warning".
            text = re.escape(re.sub(r"\s+", " ", pieces[0]))
            for kind, piece in zip(kinds, pieces[1:], strict=True):
                text += (r"\d[\d.,\s]*" if kind == "d" else ".+") + re.escape(
                    re.sub(r"\s+", " ", piece)
                )
            text = text.strip()
            patterns.append((english, re.compile(text.replace("&ndash;", "–"))))
    return patterns


@pytest.fixture
def pages(admin_client, make_task, settings):
    settings.EZTASKMANAGER_QUEUE_SERVICE_TYPE = "immediate"
    task = make_task("eztm_lines", "3, --level warning", name="nightly", note="a note")
    report = operations.launch(task, defer=False).report
    return {
        "task list": reverse("admin:eztaskmanager_task_changelist"),
        "task page": reverse("admin:eztaskmanager_task_change", args=[task.pk]),
        "new task": reverse("admin:eztaskmanager_task_add"),
        "report list": reverse("admin:eztaskmanager_launchreport_changelist"),
        "report page": reverse("admin:eztaskmanager_launchreport_change", args=[report.pk]),
        "command list": reverse("admin:eztaskmanager_appcommand_changelist"),
        "app index": reverse("admin:app_list", args=["eztaskmanager"]),
        "log viewer": reverse("eztaskmanager:log_viewer", args=[report.pk]),
        "live log viewer": reverse("eztaskmanager:live_log_viewer", args=[report.pk]),
        "dashboard": reverse("eztaskmanager:dashboard"),
    }


@pytest.mark.django_db
@override_settings(LANGUAGE_CODE="it")
def test_pages_show_no_english_message_of_ours(admin_client, pages):
    patterns = english_patterns("it")
    for page, url in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, page
        parser = Texts()
        parser.feed(response.content.decode())
        assert "Gestione task" in " ".join(parser.texts), page  # really rendered in Italian
        left = sorted(
            {
                (text, english)
                for text in parser.texts
                for english, p in patterns
                if p.fullmatch(text)
            }
        )
        assert not left, f"{page}: {left}"
