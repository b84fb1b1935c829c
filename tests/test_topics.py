"""Topic kinds: declared once, named and parsed alike, each rendered by one fragment."""

from __future__ import annotations

from datetime import date

import views  # noqa: F401  (registers every fragment)
from booking import topics
from live.render import FRAGMENTS

ON = date(2026, 11, 24)


def test_a_topic_takes_its_kinds_defaults_and_parses_back():
    assert topics.day(3, ON) == "day:3:2026-11-24:1"
    assert topics.day(3, ON, 2) == "day:3:2026-11-24:2"
    assert topics.parse("day:3:2026-11-24:2") == (topics.day, [3, ON, 2])
    assert topics.parse(topics.waiting(3, ON, 9))[0].label == "waitlist"


def test_a_family_names_every_topic_that_starts_with_its_arguments():
    assert topics.day(3, ON, 4).startswith(topics.day.family(3, ON))
    assert not topics.day(30, ON, 4).startswith(topics.day.family(3))
    assert topics.of_resource(3) == (
        "day:3:",
        "days:3:",
        "slot:3:",
        "board:3:",
        "panel:3",
        "ticket:3:",
        "wait:3:",
        "json:3:",
        "draw:3:",
        "entry:3:",
        "entries:3:",
    )


def test_every_topic_kind_is_rendered_by_one_fragment():
    assert set(FRAGMENTS) == set(topics.KINDS)
