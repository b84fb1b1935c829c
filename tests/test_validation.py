"""What forms may hold: venues' and resources' settings checked in the domain, worded by the views."""

from __future__ import annotations

from datetime import time

from booking.validation import resource_problems, venue_problems

NUMBERS = {"max_party": 4, "horizon_days": 14, "min_notice_minutes": 0}


def test_a_good_venue_has_no_problems():
    assert venue_problems("bistro-1", "Bistro", "restaurant", "Asia/Shanghai", 0) == {}


def test_a_venue_s_slug_name_kind_zone_and_limit_are_checked():
    assert venue_problems("Bistro!", "", "bakery", "Mars/Olympus", 51) == {
        "slug": "invalid",
        "name": "required",
        "kind": "invalid",
        "timezone": "invalid",
        "per_person_limit": "out_of_range",
    }
    assert venue_problems("b", "x" * 101, "clinic", "UTC", None) == {
        "name": "too_long",
        "per_person_limit": "out_of_range",
    }


def test_a_resource_s_numbers_are_within_their_bounds():
    assert resource_problems("r", "Room", "", NUMBERS, None, None, False) == {}
    assert resource_problems("r", "Room", "", {**NUMBERS, "max_party": 0, "horizon_days": 366}, None, None, False) == {
        "max_party": "out_of_range",
        "horizon_days": "out_of_range",
    }


def test_a_release_needs_its_days_and_its_time_or_neither():
    assert resource_problems("r", "Room", "", NUMBERS, 7, time(8), True) == {}
    assert resource_problems("r", "Room", "", NUMBERS, 7, None, True) == {"release_time": "incomplete"}
    assert resource_problems("r", "Room", "", NUMBERS, None, time(8), False) == {"release_time": "incomplete"}
    assert resource_problems("r", "Room", "", NUMBERS, 366, time(8), True) == {"release_days_before": "out_of_range"}
    assert resource_problems("r", "Room", "", NUMBERS, None, time(8), True) == {"release_days_before": "out_of_range"}
