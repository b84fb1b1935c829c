"""What the booking problems and errors say to a person, in the current locale."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from booking.model import (
    LimitReached,
    NotMovable,
    NotOpenYet,
    OtherResource,
    Resource,
    SlotAvailable,
    SlotFull,
)
from booking.validation import BOUNDS
from web.i18n import N_, gettext, long_date, ngettext, shown_name

PROBLEMS = {
    ("name", "required"): N_("Please enter your name."),
    ("name", "too_long"): N_("That name is too long (100 characters at most)."),
    ("name", "invalid"): N_("Please write the name in letters (no control or invisible characters)."),
    ("contact", "required"): N_("Please enter a phone number or an e-mail address."),
    ("contact", "too_long"): N_("That contact is too long (200 characters at most)."),
    ("contact", "invalid"): N_("That does not look like a phone number or an e-mail address."),
    ("party_size", "not_a_number"): N_("Please choose how many places, as a whole number."),
    ("party_size", "too_small"): N_("At least one place, please."),
    ("party_size", "too_large"): N_("At most %(max)s places per booking."),
    ("slot_id", "not_a_number"): N_("slot_id must be a whole number."),
    ("address", "too_long"): N_("That address is too long (200 characters at most)."),
    ("address", "invalid"): N_("Please write the address in plain text (no control or invisible characters)."),
    ("phone", "invalid"): N_("That does not look like a phone number."),
    ("name_zh", "too_long"): N_("That Chinese name is too long (100 characters at most)."),
    ("name_zh", "invalid"): N_("Please write the Chinese name in plain text (no control or invisible characters)."),
    ("slug", "invalid"): N_("Use 1-40 lower-case letters, digits and dashes."),
    ("kind", "invalid"): N_("Choose a kind."),
    ("timezone", "invalid"): N_("Use a time zone name such as Europe/London or Asia/Shanghai."),
    ("release_days_before", "out_of_range"): N_("Leave empty, or a whole number from %(low)s to %(high)s."),
    ("release_time", "incomplete"): N_("A release needs both: how many days before, and the time (HH:MM)."),
    **{(field, "out_of_range"): N_("A whole number from %(low)s to %(high)s.") for field in BOUNDS
       if field != "release_days_before"},
}
# A venue's or a resource's name is not a person's.
PLACE_PROBLEMS = {
    ("name", "required"): N_("Please enter a name (100 characters at most)."),
    ("name", "too_long"): N_("Please enter a name (100 characters at most)."),
}


def problem_messages(problems: dict[str, str], max_party: int = 1, place: bool = False) -> dict[str, str]:
    """Field -> sentence, for a form or a JSON 422 (`place`: the form of a venue or a resource)."""
    words = {**PROBLEMS, **PLACE_PROBLEMS} if place else PROBLEMS
    return {field: gettext(words[field, code], max=max_party, low=BOUNDS.get(field, (0, 0))[0],
                           high=BOUNDS.get(field, (0, 0))[1]) for field, code in problems.items()}


def slot_full() -> str:
    return gettext("Sorry, this slot was just taken. Here are the nearest free ones.")


def too_few_places(left: int, party: int) -> str:
    return ngettext("Only %(num)s place is left in this slot: too few for %(party)s people. Here are the nearest"
                    " with room.", "Only %(num)s places are left in this slot: too few for %(party)s people. Here are"
                    " the nearest with room.", left, party=party)


def slot_unavailable() -> str:
    return gettext("This slot can no longer be booked. Here are the nearest free ones.")


def not_open_yet(opens_at: datetime, timezone: str) -> str:
    local = opens_at.astimezone(ZoneInfo(timezone))
    return gettext("This day opens for booking on %(day)s at %(time)s.", day=long_date(local.date()),
                   time=local.strftime("%H:%M"))


def countdown(count: int, unit: timedelta) -> str:
    """'in 3 days', 'in 5 h', 'in 12 min', 'in 40 s'."""
    if unit >= timedelta(days=1):
        return ngettext("in %(num)s day", "in %(num)s days", count, num=count)
    if unit >= timedelta(hours=1):
        return gettext("in %(num)s h", num=count)
    if unit >= timedelta(minutes=1):
        return gettext("in %(num)s min", num=count)
    return gettext("in %(num)s s", num=count * 10) if count > 1 else gettext("in a few seconds")


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


def limit_reached(limit: int, resource: Resource) -> str:
    """The per-person limit, said with what it limits (the public and staff read the same words)."""
    return ngettext("%(resource)s takes %(num)s booking per person a day (waitlist places included), and this phone"
                    " or e-mail already has it on this day.",
                    "%(resource)s takes %(num)s bookings per person a day (waitlist places included), and this phone"
                    " or e-mail already has %(num)s on this day.", limit, num=limit, resource=shown_name(resource))


KINDS = {"restaurant": N_("Restaurant"), "clinic": N_("Clinic"), "barber": N_("Barber")}


def kind_label(kind: str) -> str:
    """A venue kind as people say it, in the current locale."""
    return gettext(KINDS[kind]) if kind in KINDS else kind
