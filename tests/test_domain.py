"""Pure domain rules: slot generation across DST, booking rules, references."""

from datetime import UTC, date, datetime, time

from booking import model, schedule, validation
from booking.model import OpeningRule, local_today


def hourly(weekday, opens, closes, capacity=4, minutes=30):
    return (OpeningRule(weekday, time.fromisoformat(opens), time.fromisoformat(closes), minutes, capacity),)


def test_plan_day_makes_slots_in_the_venue_zone():
    day = date(2026, 7, 1)  # a Wednesday, London on summer time (UTC+1)
    plans = schedule.plan_day(hourly(day.weekday(), "12:00", "14:00"), day, "Europe/London")
    assert [p.starts_at for p in plans] == [
        datetime(2026, 7, 1, h, m, tzinfo=UTC) for h, m in ((11, 0), (11, 30), (12, 0), (12, 30))
    ]
    assert all(p.local_date == day and p.capacity == 4 for p in plans)
    assert plans[-1].ends_at == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


def test_plan_day_ignores_other_weekdays():
    day = date(2026, 7, 1)
    assert schedule.plan_day(hourly((day.weekday() + 1) % 7, "12:00", "14:00"), day, "UTC") == []


def test_spring_forward_skips_the_missing_hour():
    day = date(2026, 3, 8)  # New York: 02:00 -> 03:00
    plans = schedule.plan_day(hourly(day.weekday(), "01:00", "04:00", minutes=60), day, "America/New_York")
    local = [p.starts_at.astimezone(schedule.ZoneInfo("America/New_York")).strftime("%H:%M") for p in plans]
    assert local == ["01:00", "03:00"]
    assert [p.starts_at.hour for p in plans] == [6, 7]  # UTC-5 then UTC-4


def test_fall_back_gives_the_repeated_hour_once():
    day = date(2026, 11, 1)  # New York: 02:00 -> 01:00
    plans = schedule.plan_day(hourly(day.weekday(), "00:00", "03:00", minutes=60), day, "America/New_York")
    assert [p.starts_at.hour for p in plans] == [4, 5, 7]  # 00:00 EDT, 01:00 EDT, 02:00 EST
    assert len({p.starts_at for p in plans}) == len(plans)


def test_overlapping_rules_do_not_duplicate_slots():
    day = date(2026, 7, 1)
    rules = hourly(day.weekday(), "12:00", "13:00") + hourly(day.weekday(), "12:00", "13:00")
    assert len(schedule.plan_day(rules, day, "UTC")) == 2


def test_local_today_uses_the_venue_zone():
    late_evening_utc = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    assert local_today("Asia/Shanghai", late_evening_utc) == date(2026, 11, 25)
    assert local_today("America/New_York", late_evening_utc) == date(2026, 11, 24)


def test_booking_problems():
    ok = validation.booking_problems("Ann", "ann@example.com", 2, max_party=4)
    assert ok == {}
    assert validation.booking_problems("Ann", "+86 138 0000 0000", 1, 1) == {}
    assert validation.booking_problems("", "", 0, 4) == {
        "name": "required",
        "contact": "required",
        "party_size": "too_small",
    }
    assert validation.booking_problems("x" * 101, "12345", 5, 4) == {"name": "too_long", "party_size": "too_large"}
    assert validation.booking_problems("Ann", "not a contact", "2", 4) == {
        "contact": "invalid",
        "party_size": "not_a_number",
    }
    assert validation.booking_problems("Ann", "12345", True, 4) == {"party_size": "not_a_number"}
    assert validation.booking_problems("王小明", "wang@example.cn", -1, 4) == {"party_size": "too_small"}


def test_parse_party_size():
    assert validation.parse_party_size("3") == 3
    assert validation.parse_party_size(" 2 ") == 2
    assert validation.parse_party_size("-1") == -1
    assert validation.parse_party_size("two") is None
    assert validation.parse_party_size("9" * 40) is None
    assert validation.parse_party_size(True) is None


def test_references_are_short_unambiguous_and_unguessable():
    refs = {model.new_reference() for _ in range(2000)}
    assert len(refs) == 2000
    assert all(len(r) == 8 and set(r) <= set(model.REFERENCE_ALPHABET) for r in refs)
    assert not set("01OIL") & set(model.REFERENCE_ALPHABET)
    tokens = {model.new_cancel_token() for _ in range(100)}
    assert len(tokens) == 100 and all(len(t) >= 24 for t in tokens)


def test_cancel_token_check():
    booking = model.Booking(1, "ABCDEFGH", 1, "Ann", "12345", 1, "confirmed", datetime.now(UTC), cancel_token="s3cret")
    assert booking.token_matches("s3cret")
    assert not booking.token_matches("S3cret")
    assert not booking.token_matches("")
    assert not booking.token_matches("秘密")


def test_slot_remaining_is_zero_when_closed():
    now = datetime.now(UTC)
    assert model.Slot(1, 1, now, now, now.date(), 5, 2).remaining == 3
    assert model.Slot(1, 1, now, now, now.date(), 5, 2, closed=True).remaining == 0


def test_reconcile_keeps_bookings_and_never_overlaps():
    day = date(2026, 7, 1)
    now = datetime(2026, 6, 30, tzinfo=UTC)
    hourly_plan = schedule.plan_day(hourly(day.weekday(), "08:00", "10:00", capacity=4, minutes=60), day, "UTC")
    existing = [model.Slot(i + 1, 1, p.starts_at, p.ends_at, day, p.capacity, 0) for i, p in enumerate(hourly_plan)]
    half_hourly = schedule.plan_day(hourly(day.weekday(), "08:00", "10:00", capacity=4, minutes=30), day, "UTC")
    change = schedule.reconcile(existing, half_hourly, now)
    assert change.conflicts == [] and change.remove == []
    assert [(i, end.hour, end.minute) for i, end, _ in change.reshape] == [(1, 8, 30), (2, 9, 30)]
    assert [p.starts_at.strftime("%H:%M") for p in change.add] == ["08:30", "09:30"]

    booked = [existing[0], model.Slot(2, 1, existing[1].starts_at, existing[1].ends_at, day, 4, 3)]
    assert schedule.reconcile(booked, half_hourly, now).conflicts == [booked[1]]  # a booked slot may not move
    fewer = schedule.plan_day(hourly(day.weekday(), "08:00", "10:00", capacity=2, minutes=60), day, "UTC")
    assert schedule.reconcile(booked, fewer, now).conflicts == [booked[1]]  # nor shrink below its bookings
    more = schedule.plan_day(hourly(day.weekday(), "08:00", "09:00", capacity=6, minutes=60), day, "UTC")
    assert schedule.reconcile(booked, more, now).conflicts == [booked[1]]  # nor vanish
    assert schedule.reconcile(existing, more, now).remove == [2]


def test_waiting_line_order_and_who_waits():
    day = date(2026, 7, 1)
    nine, ten = datetime(2026, 7, 1, 9, tzinfo=UTC), datetime(2026, 7, 1, 10, tzinfo=UTC)
    early, late = model.Slot(1, 1, nine, ten, day, 5, 3), model.Slot(2, 1, ten, ten, day, 5, 2)

    def booking(i, ticket, **kw):
        return model.Booking(i, f"R{i}", 1, "x", "12345", 1, kw.pop("status", "confirmed"), nine, ticket=ticket, **kw)

    entries = [
        (booking(1, 3), late),
        (booking(2, 1), early),
        (
            booking(3, 2),
            early,
        ),
        (booking(4, 4, attendance="checked_in"), late),  # arrived: still waits for the call
        (booking(5, 5, attendance="no_show"), early),
        (booking(6, 6, status="cancelled"), early),
        (booking(7, 7, called_at=nine), early),
        (booking(8, 8, requeued_at=datetime(2026, 7, 1, 9, 30, tzinfo=UTC)), early),  # 过号: back at 09:30
    ]
    assert [b.ticket for b, _ in model.waiting_line(entries)] == [1, 2, 8, 3, 4]
    assert [b.ticket for b, _ in model.called_recently(entries)] == [7]
    assert model.ticket_label("B", 7) == "B007" and model.ticket_label("A", None) == ""
