"""What the booking problems and errors say to a person, in the current locale."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.numbers import format_decimal, get_group_symbol
from markupsafe import Markup, escape

from booking import draw, model
from booking.errors import LimitReached, NotMovable, NotOpenYet, OtherResource, SlotAvailable, SlotFull
from booking.model import Resource
from booking.validation import BOUNDS
from web.i18n import (
    N_,
    NC_,
    NCP_,
    current_babel,
    gettext,
    long_date,
    ngettext,
    npgettext,
    pgettext,
    shown_name,
)

PROBLEMS = {
    ("name", "required"): N_("Please enter your name."),
    ("name", "too_long"): N_("That name is too long (100 characters at most)."),
    ("name", "invalid"): N_("Please write the name in letters (no control or invisible characters)."),
    ("contact", "required"): N_("Please enter a phone number or an e-mail address."),
    ("contact", "too_long"): N_("That contact is too long (200 characters at most)."),
    ("contact", "invalid"): N_("That does not look like a phone number or an e-mail address."),
    ("contact", "invalid_phone"): N_(
        "That is not a valid phone number: check its digits, and its country code if you wrote one."
    ),
    ("contact", "mixed_scripts"): N_(
        "That e-mail address mixes letters of different alphabets (such as Latin and"
        " Cyrillic): please write it as your mail provider shows it."
    ),
    ("party_size", "not_a_number"): N_("Please choose how many places, as a whole number."),
    ("party_size", "too_small"): N_("At least one place, please."),
    ("party_size", "too_large"): N_("At most %(max)s places per booking."),
    ("slot_id", "not_a_number"): N_("slot_id must be a whole number."),
    ("address", "too_long"): N_("That address is too long (200 characters at most)."),
    ("address", "invalid"): N_("Please write the address in plain text (no control or invisible characters)."),
    ("phone", "invalid"): N_("That does not look like a phone number."),
    ("country", "invalid"): N_("Use a two-letter country code such as GB, CN or US."),
    ("name_zh", "too_long"): N_("That Chinese name is too long (100 characters at most)."),
    ("name_zh", "invalid"): N_("Please write the Chinese name in plain text (no control or invisible characters)."),
    ("slug", "invalid"): N_("Use 1-40 lower-case letters, digits and dashes."),
    ("kind", "invalid"): N_("Choose a kind."),
    ("timezone", "invalid"): N_("Use a time zone name such as Europe/London or Asia/Shanghai."),
    ("release_days_before", "out_of_range"): N_("Leave empty, or a whole number from %(low)s to %(high)s."),
    ("release_time", "incomplete"): N_("A release needs both: how many days before, and the time (HH:MM)."),
    ("release_mode", "invalid"): N_("Choose first come, first served or a draw."),
    ("preferences", "required"): N_("Choose at least your first preferred time."),
    ("preferences", "too_many"): N_("Choose three times at most."),
    ("preferences", "not_a_slot"): N_("Choose times of this day from the list."),
    ("preferences", "repeated"): N_("Choose each time once."),
    **{
        (field, "out_of_range"): N_("A whole number from %(low)s to %(high)s.")
        for field in BOUNDS
        if field != "release_days_before"
    },
}
# A venue's or a resource's name is not a person's.
PLACE_PROBLEMS = {
    ("name", "required"): N_("Please enter a name (100 characters at most)."),
    ("name", "too_long"): N_("Please enter a name (100 characters at most)."),
}


def problem_messages(problems: dict[str, str], max_party: int = 1, place: bool = False) -> dict[str, str]:
    """Field -> sentence, for a form or a JSON 422 (`place`: the form of a venue or a resource)."""
    words = {**PROBLEMS, **PLACE_PROBLEMS} if place else PROBLEMS
    return {
        field: gettext(
            words[field, code], max=max_party, low=BOUNDS.get(field, (0, 0))[0], high=BOUNDS.get(field, (0, 0))[1]
        )
        for field, code in problems.items()
    }


def slot_full() -> str:
    return gettext("Sorry, this slot was just taken. Here are the nearest free ones.")


def too_few_places(left: int, party: int) -> str:
    return ngettext(
        "Only %(num)s place is left in this slot: too few for %(party)s people. Here are the nearest with room.",
        "Only %(num)s places are left in this slot: too few for %(party)s people. Here are the nearest with room.",
        left,
        party=party,
    )


def slot_unavailable() -> str:
    return gettext("This slot can no longer be booked. Here are the nearest free ones.")


def not_open_yet(opens_at: datetime, timezone: str) -> str:
    local = opens_at.astimezone(ZoneInfo(timezone))
    return gettext(
        "This day opens for booking on %(day)s at %(time)s.", day=long_date(local.date()), time=local.strftime("%H:%M")
    )


def countdown(until: datetime, now: datetime, *, left: bool = False) -> Markup:
    """'in 3 days', 'in 5 h', 'in 12 min', 'in 40 s' ('3 days left' … with `left`); in the last minute the page
    counts the seconds on by itself (see tick)."""
    count, unit, _ = model.countdown(until, now)
    if unit >= timedelta(days=1):
        return escape(
            ngettext("%(num)s day left", "%(num)s days left", count)
            if left
            else ngettext("in %(num)s day", "in %(num)s days", count)
        )
    if unit >= timedelta(hours=1):
        return escape(gettext("%(num)s h left", num=count) if left else gettext("in %(num)s h", num=count))
    if unit >= timedelta(minutes=1):
        return escape(gettext("%(num)s min left", num=count) if left else gettext("in %(num)s min", num=count))
    return escape(gettext("%(num)s s left") if left else gettext("in %(num)s s")) % {"num": tick(until, now)}


TICK = Markup('<span class="tick" id="tick-{id}" hx-preserve="true" data-left-ms="{ms}"><span>{count}</span></span>')


def tick(until: datetime, now: datetime) -> Markup:
    """The last minute's seconds, which static/app.css counts down from `data-left-ms` without script (no per-second
    push: the hub sends a render every ten seconds). The id names the instant and those ten seconds: a page opened
    meanwhile keeps its own exact count when the render the hub kept since arrives (hx-preserve)."""
    count, _unit, renders_at = model.countdown(until, now)
    ms = max(until - now, timedelta()) // timedelta(milliseconds=1)
    return TICK.format(id=f"{until.timestamp():.0f}-{renders_at.timestamp():.0f}", ms=ms, count=count)


def refusal(refused: Exception, timezone: str, resource: Resource) -> str:
    """What a refused waitlist request or move of `resource` says (the booking form's refusals have their own
    words)."""
    if isinstance(refused, LimitReached):
        return limit_reached(refused.limit, resource)
    if isinstance(refused, NotOpenYet):
        return not_open_yet(refused.opens_at, timezone)
    if isinstance(refused, SlotAvailable):
        return gettext("This time has room: book it with the form above.")
    if isinstance(refused, SlotFull):
        return gettext("That time has no room left for your party. Your booking stays where it was.")
    if isinstance(refused, NotMovable):
        return gettext("This booking can no longer be moved: it is cancelled, called, or its time has begun.")
    if isinstance(refused, OtherResource):
        return gettext("A booking can only move to another time of the same service.")
    return gettext("This slot can no longer be booked.")


def draw_closed(opens: datetime, closes: datetime, timezone: str, now: datetime) -> str:
    """Why a draw takes no entry now: its entries open later, or have closed."""
    if now < opens:
        local = opens.astimezone(ZoneInfo(timezone))
        return gettext(
            "Entries to this draw open on %(day)s at %(time)s.",
            day=long_date(local.date()),
            time=local.strftime("%H:%M"),
        )
    return gettext("Entries to this draw have closed.")


def already_entered() -> str:
    return gettext("You have entered this draw already: one entry per person.")


def not_a_draw() -> str:
    return gettext("This is booked first come, first served: there is no draw to enter.")


def draw_countdown(until: datetime, now: datetime) -> str:
    """A draw's countdown: 'in 3 days', 'in 3 h 20 min' from an hour away (booking.draw.time_left), then as any
    countdown ('in 12 min', the last minute's seconds counted by the page)."""
    far = draw.time_left(until, now)
    if far is None:
        return countdown(until, now)
    left = far[0]
    if left > timedelta(days=2):
        return ngettext("in %(num)s day", "in %(num)s days", left.days, num=left.days)
    hours, minutes = divmod(int(left.total_seconds()) // 60, 60)
    if minutes:
        return gettext("in %(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    return gettext("in %(num)s h", num=hours)


def entries_for_places(entries: int, places: int) -> str:
    """'5,120 entries for 100 places'."""
    return gettext(
        "%(entries)s for %(places)s",
        entries=ngettext("%(num)s entry", "%(num)s entries", entries, num=format_number(entries)),
        places=ngettext("%(num)s place", "%(num)s places", places, num=format_number(places)),
    )


def format_number(n: int) -> str:
    """'1,234' as the current locale writes it."""
    locale = current_babel()
    separator = thousands(locale)
    if separator is None or type(n) is not int:
        return format_decimal(n, locale=locale)
    return f"{n:,}".replace(",", separator)  # Babel's answer, in a tenth of its time (a draw's results format many)


@cache
def thousands(locale: Locale) -> str | None:
    """The locale's group separator when it groups whole numbers by threes with ASCII digits; else None (Babel)."""
    pattern = locale.decimal_formats[None]
    digits = format_decimal(1234567, locale=locale) == f"{1234567:,}".replace(",", get_group_symbol(locale))
    return get_group_symbol(locale) if pattern.grouping == (3, 3) and digits else None


def limit_reached(limit: int, resource: Resource) -> str:
    """The per-person limit, said with what it limits (the public and staff read the same words)."""
    return ngettext(
        "%(resource)s takes %(num)s booking per person a day (waitlist places included), and this phone"
        " or e-mail already has it on this day.",
        "%(resource)s takes %(num)s bookings per person a day (waitlist places included), and this phone"
        " or e-mail already has %(num)s on this day.",
        limit,
        num=limit,
        resource=shown_name(resource),
    )


KINDS = {"restaurant": N_("Restaurant"), "clinic": N_("Clinic"), "barber": N_("Barber")}

# The words a visitor reads that depend on the venue's kind, once per kind (the kind is also their msgctxt, so each
# kind has Chinese words of its own: a restaurant 有位 and 休息, a clinic 有号 and 停诊). A pair has a plural form.
WORDS: dict[str, dict[str, str | tuple[str, str]]] = {
    "restaurant": {
        "open": NC_("restaurant", "Available"),
        "full": NC_("restaurant", "Full"),
        "not_yet": NC_("restaurant", "Not open yet"),
        "closed": NC_("restaurant", "Closed"),
        "past": NC_("restaurant", "Over"),
        "closed_day": NC_("restaurant", "Closed on this day."),
        "slot_closed": NC_("restaurant", "Not taking bookings"),
        "left": NC_("restaurant", "Left"),
        "places_left": NCP_("restaurant", "%(num)s seat left", "%(num)s seats left"),
        "too_few": NC_("restaurant", "Too few seats for %(n)s"),
        "slot_full": NC_("restaurant", "This time is fully booked."),
        "opens": NC_("restaurant", "Opens %(day)s %(time)s"),
        "release": NC_("restaurant", "Booking opens %(day)s at %(time)s"),
        "party": NC_("restaurant", "Number of people"),
        "waitlist": NC_("restaurant", "Waitlist"),
        "waitlist_for": NC_("restaurant", "Waitlist for %(time)s"),
        "join_waitlist": NC_("restaurant", "Join the waitlist"),
        "wait": NC_("restaurant", "Wait for a table"),
        "offer": NC_("restaurant", "A place is yours until %(time)s."),
        "booked": NC_("restaurant", "Your table is reserved"),
        "party_of": NCP_("restaurant", "%(num)s guest", "%(num)s guests"),
        "places": NC_("restaurant", "Guests"),
        "left_today": NC_("restaurant", "Left today: %(n)s"),
        "full_today": NC_("restaurant", "Full today"),
    },
    "clinic": {
        "open": NC_("clinic", "Available"),
        "full": NC_("clinic", "Full"),
        "not_yet": NC_("clinic", "Not open yet"),
        "closed": NC_("clinic", "Closed"),
        "past": NC_("clinic", "Over"),
        "closed_day": NC_("clinic", "No appointments on this day."),
        "slot_closed": NC_("clinic", "Not taking bookings"),
        "left": NC_("clinic", "Left"),
        "places_left": NCP_("clinic", "%(num)s appointment left", "%(num)s appointments left"),
        "too_few": NC_("clinic", "Too few appointments for %(n)s"),
        "slot_full": NC_("clinic", "This time is fully booked."),
        "opens": NC_("clinic", "Opens %(day)s %(time)s"),
        "release": NC_("clinic", "Booking opens %(day)s at %(time)s"),
        "party": NC_("clinic", "Number of patients"),
        "waitlist": NC_("clinic", "Waitlist"),
        "waitlist_for": NC_("clinic", "Waitlist for %(time)s"),
        "join_waitlist": NC_("clinic", "Join the waitlist"),
        "wait": NC_("clinic", "Wait for a place"),
        "offer": NC_("clinic", "A place is yours until %(time)s."),
        "booked": NC_("clinic", "Your ticket is booked"),
        "party_of": NCP_("clinic", "%(num)s patient", "%(num)s patients"),
        "places": NC_("clinic", "Patients"),
        "left_today": NC_("clinic", "Left today: %(n)s"),
        "full_today": NC_("clinic", "Full today"),
    },
    "barber": {
        "open": NC_("barber", "Available"),
        "full": NC_("barber", "Full"),
        "not_yet": NC_("barber", "Not open yet"),
        "closed": NC_("barber", "Closed"),
        "past": NC_("barber", "Over"),
        "closed_day": NC_("barber", "Closed on this day."),
        "slot_closed": NC_("barber", "Not taking bookings"),
        "left": NC_("barber", "Left"),
        "places_left": NCP_("barber", "%(num)s place left", "%(num)s places left"),
        "too_few": NC_("barber", "Too few places for %(n)s"),
        "slot_full": NC_("barber", "This time is fully booked."),
        "opens": NC_("barber", "Opens %(day)s %(time)s"),
        "release": NC_("barber", "Booking opens %(day)s at %(time)s"),
        "party": NC_("barber", "Number of people"),
        "waitlist": NC_("barber", "Waitlist"),
        "waitlist_for": NC_("barber", "Waitlist for %(time)s"),
        "join_waitlist": NC_("barber", "Join the waitlist"),
        "wait": NC_("barber", "Wait for a place"),
        "offer": NC_("barber", "A place is yours until %(time)s."),
        "booked": NC_("barber", "You are booked"),
        "party_of": NCP_("barber", "%(num)s person", "%(num)s people"),
        "places": NC_("barber", "Places"),
        "left_today": NC_("barber", "Left today: %(n)s"),
        "full_today": NC_("barber", "Full today"),
    },
}


def word(kind: str, key: str, **values) -> str:
    """What a venue of this kind calls `key`, in the current locale (`num` chooses a plural form)."""
    message = WORDS[kind][key]
    if isinstance(message, tuple):
        return npgettext(kind, *message, values.pop("num"), **values)
    return pgettext(kind, message, **values)


def kind_label(kind: str) -> str:
    """A venue kind as people say it, in the current locale."""
    return gettext(KINDS[kind]) if kind in KINDS else kind
