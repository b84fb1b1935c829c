"""What each audit trail entry says, in words a person reads: one entry per action, both languages through gettext.

The placeholders are filled when the trail is shown, from what the entry keeps: `booking` (its ticket and the
booked person's name, read from the booking then: an erased person's name is gone), `slot` (a resource and a
time), `resource`, `venue`, `day` and `last_day`, `subject` (a counter, an account's name, a key's name and prefix),
and `count` and `days` (an erasure's numbers)."""

from __future__ import annotations

import re

from booking.model import AuditEntry, Booking, Slot, Venue, ticket_label
from web import i18n
from web.i18n import N_

WORDS = {
    "login": N_("Logged in"),
    "login_failed": N_("Tried to log in with a wrong name or password"),
    "logout": N_("Logged out"),
    "view_board": N_("Viewed the board of %(day)s"),
    "print_list": N_("Opened the printable list of %(day)s"),
    "export_day": N_("Exported the bookings of %(day)s as CSV"),
    "export_range": N_("Exported the bookings of %(day)s to %(last_day)s as CSV"),
    "export_draw": N_("Exported the draw of %(resource)s on %(day)s as CSV"),
    "export_audit": N_("Exported the audit trail as CSV"),
    "close_slot": N_("Closed the slot %(slot)s"),
    "reopen_slot": N_("Reopened the slot %(slot)s"),
    "close_or_reopen_slot": N_("Closed or reopened the slot %(slot)s"),
    "create_booking": N_("Booked %(booking)s at %(slot)s"),
    "cancel_booking": N_("Cancelled %(booking)s"),
    "check_in": N_("Checked in %(booking)s"),
    "mark_no_show": N_("Marked %(booking)s as a no-show"),
    "clear_attendance": N_("Cleared the attendance mark of %(booking)s"),
    "mark_booking": N_("Changed the attendance mark of %(booking)s"),
    "call_ticket": N_("Called %(booking)s to counter %(subject)s"),
    "call_next": N_("Called the next in line, %(booking)s, to counter %(subject)s"),
    "requeue_ticket": N_("Put %(booking)s back in the line"),
    "new_venue": N_("Added the venue %(venue)s"),
    "edit_venue": N_("Changed the venue %(venue)s"),
    "new_resource": N_("Added %(resource)s"),
    "edit_resource": N_("Changed %(resource)s and its schedule"),
    "add_webhook": N_("Added a webhook to %(subject)s"),
    "remove_webhook": N_("Removed the webhook to %(subject)s"),
    "webhook_events": N_("Chose the events of the webhook to %(subject)s"),
    "test_webhook": N_("Sent a test event to the webhook at %(subject)s"),
    "disable_webhook": N_("Disabled the webhook to %(subject)s"),
    "enable_webhook": N_("Enabled the webhook to %(subject)s"),
    "rotate_webhook_secret": N_("Made a new secret for the webhook to %(subject)s"),
    "resend_delivery": N_("Sent the webhook delivery %(subject)s again"),
    "erase_person": N_("Erased one person's names and contacts on request (%(count)s records)"),
    "erase_ended": N_("Erased the names and contacts of %(count)s records older than %(days)s days"),
    "create_staff": N_("Created the staff account %(subject)s"),
    "change_staff": N_("Changed the staff account %(subject)s"),
    "disable_staff": N_("Disabled the staff account %(subject)s"),
    "enable_staff": N_("Enabled the staff account %(subject)s"),
    "password_link": N_("Made a link to set the password of %(subject)s"),
    "change_password": N_("Changed the password of %(subject)s"),
    "create_api_key": N_("Created the API key %(subject)s"),
    "revoke_api_key": N_("Revoked the API key %(subject)s"),
}


class Blanks(dict):
    """Placeholders not known: an ellipsis."""

    def __missing__(self, key: str) -> str:
        return "…"


def label(action: str) -> str:
    """An action as a filter lists it: its words with blanks ("Checked in …")."""
    return i18n.translations(i18n.current()).gettext(WORDS[action]) % Blanks() if action in WORDS else action


def describe(entry: AuditEntry, venue: Venue | None, booked: tuple[Booking, Slot] | None, slot: Slot | None) -> str:
    """An entry in words, with the booking, slot and venue it was about as they are now."""
    if entry.action not in WORDS:
        return f"{entry.action} {entry.subject}".strip()
    slot = slot or (booked[1] if booked else None)
    numbers = re.findall(r"\d+", entry.subject)
    path = entry.subject.startswith("/")  # an older entry kept the request's path, a booking's or slot's id in it
    values = Blanks(
        subject="—" if path or not entry.subject else entry.subject,
        booking=booking_words(venue, booked) if booked else entry.subject,
        slot=slot_words(venue, slot) if slot else entry.subject,
        resource=resource_words(venue, entry.subject),
        venue=i18n.shown_name(venue) if venue else entry.subject,
        day=entry.local_date.isoformat() if entry.local_date else "",
        last_day=entry.last_date.isoformat() if entry.last_date else "",
        count=numbers[0] if numbers else "?",
        days=numbers[1] if len(numbers) > 1 else "?",
    )
    return i18n.translations(i18n.current()).gettext(WORDS[entry.action]) % values


def booking_words(venue: Venue | None, booked: tuple[Booking, Slot]) -> str:
    """'A002 韩梅梅': the ticket (or reference) and the name the booking has now (none once erased)."""
    booking, slot = booked
    ticket = ticket_label(venue.ticket_letter(slot.resource_id), booking.ticket) if venue else ""
    return " ".join(part for part in (ticket or booking.reference, booking.name) if part)


def slot_words(venue: Venue | None, slot: Slot) -> str:
    """'Tables 18:00' where the venue is."""
    resource = venue.resource(slot.resource_id) if venue else None
    when = i18n.local_time(slot.starts_at, venue.timezone if venue else "UTC")
    return f"{i18n.shown_name(resource)} {when}" if resource else when


def resource_words(venue: Venue | None, subject: str) -> str:
    """A resource kept by slug (or, in older entries, by id in a path), by its name."""
    number = re.search(r"/resources/(\d+)/", subject)
    resource = venue and venue.resource(int(number[1]) if number else subject)
    return i18n.shown_name(resource) if resource else subject
