"""Schedules as text lines: what staff type in the resource form, parsed and written back."""

from datetime import date, time

import pytest

from booking import rules_text
from booking.model import DayException, OpeningRule


def test_day_ranges_lists_and_wrapping_weeks():
    assert rules_text.parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert rules_text.parse_days("sat,sun") == [5, 6]
    assert rules_text.parse_days("fri-mon") == [0, 4, 5, 6]  # over the weekend
    assert rules_text.parse_days("daily") == list(range(7))
    assert rules_text.parse_days("tuesday") == [1]


def test_rules_and_exceptions_from_lines_with_comments_and_blanks():
    rules, exceptions = rules_text.parse(
        "Mon-Tue 08:00-12:00 30 5   # mornings\n\n  # a note\n2026-12-25 closed\n2026-12-24 10:00-13:00 30min x4\n"
    )
    assert rules == [OpeningRule(0, time(8), time(12), 30, 5), OpeningRule(1, time(8), time(12), 30, 5)]
    assert exceptions == [DayException(date(2026, 12, 25)), DayException(date(2026, 12, 24), time(10), time(13), 30, 4)]
    assert exceptions[0].closed and not exceptions[1].closed


@pytest.mark.parametrize(
    "text, line",
    [
        ("mon-fri 12:00-08:00 30 5", 1),  # closes before it opens
        ("mon 08:00-12:00 30 5\nsometimes 08:00-12:00 30 5", 2),  # no such day
        ("mon 08:00-12:00 3 5", 1),  # slots under five minutes
        ("mon 08:00-12:00 30 20000", 1),  # more places than any venue has
        ("mon 08:00-12:00", 1),  # no slot length or places
        ("2026-02-30 closed", 1),  # no such date
        ("mon 8am-noon 30 5", 1),
    ],
)
def test_an_unreadable_line_names_its_number(text, line):
    with pytest.raises(rules_text.RuleProblem) as problem:
        rules_text.parse(text)
    assert problem.value.line == line and problem.value.code == "unreadable"


def test_to_text_parses_back_to_the_same_schedule():
    text = "mon-fri 08:00-12:00 30 5\nsat 10:00-14:00 60 8\n2026-12-25 closed\n2026-12-24 10:00-13:00 30 4"
    rules, exceptions = rules_text.parse(text)
    again = rules_text.to_text(tuple(rules), tuple(exceptions))
    assert rules_text.parse(again) == (rules, exceptions)
    assert again.splitlines()[0] == "mon 08:00-12:00 30 5" and again.splitlines()[-1] == "2026-12-24 10:00-13:00 30 4"


def test_weekly_hours_group_days_and_join_sessions_that_touch():
    rules, _ = rules_text.parse(
        "mon-fri 08:00-12:00 30 5\nmon-fri 13:30-17:00 30 4\nsat 08:00-10:00 60 8\n"
        "sat 10:00-12:00 60 4\nsun 09:00-11:00 60 0"
    )
    assert rules_text.weekly_hours(tuple(rules)) == [
        (0, 4, ((time(8), time(12)), (time(13, 30), time(17)))),
        (5, 5, ((time(8), time(12)),)),  # two sessions that touch read as one; Sunday has no places
    ]


def test_weekly_hours_every_day_and_none():
    rules, _ = rules_text.parse("daily 11:00-21:00 60 20")
    assert rules_text.weekly_hours(tuple(rules)) == [(0, 6, ((time(11), time(21)),))]
    assert rules_text.weekly_hours(()) == []
