from __future__ import annotations

from datetime import timedelta

from django.template import engines
from django.utils import timezone

from evalloop.web.templatetags.when import ago


def test_the_last_minute_is_just_now_not_zero_minutes():
    now = timezone.now()
    assert ago(now - timedelta(seconds=59)) == "just now"
    assert ago(now + timedelta(seconds=5)) == "just now"


def test_older_moments_say_how_long_ago():
    now = timezone.now()
    assert ago(now - timedelta(minutes=3, seconds=5)) == "3\xa0minutes ago"
    assert ago(now - timedelta(days=2, hours=1)) == "2\xa0days, 1\xa0hour ago"


def test_no_moment_is_no_text():
    assert ago(None) == ""


def test_every_template_may_use_it_without_loading_it():
    page = engines["django"].from_string("{{ moment|ago }}")
    assert page.render({"moment": timezone.now()}) == "just now"
