"""Every write: validate, stamp with the clock, then one store call (the store tells who listens what changed)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta

from . import access, keys
from .contacts import clean_text
from .draw import (
    DRAW,
    Draw,
    DrawEntry,
    NotADraw,
    open_places,
    preference_problem,
    window,
)
from .errors import BookingError, NotFound, SlotFull
from .model import (
    FULL,
    OPEN,
    RESOURCE_SETTINGS,
    AuditEntry,
    Booking,
    DayException,
    OpeningRule,
    Resource,
    Slot,
    Venue,
    WaitlistEntry,
    local_today,
    slot_state,
)
from .outages import Unavailable
from .store import Store
from .validation import booking_problems, detail_problems

LINK_LIFETIME = timedelta(hours=24)  # a set-password link works this long, once


def link_hash(token: str) -> str:
    """What is kept of a password link's token: its sha256, so the table alone opens nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


class Invalid(BookingError):
    """The request itself is wrong; `problems` maps each field to a problem code."""

    code = "invalid"

    def __init__(self, problems: dict[str, str]):
        super().__init__(problems)
        self.problems = problems


class Service:
    """The domain's actions, over a store and a clock."""

    def __init__(self, store: Store, clock, observe: Callable[[str], object] = lambda outcome: None):
        self.store = store
        self.clock = clock
        self.observe = observe  # hears each booking attempt's outcome: 'created' or the refusal's code

    async def book(
        self,
        resource: Resource,
        slot_id: int,
        name: str,
        contact: str,
        party_size: object,
        idempotency_key: str | None = None,
        for_staff: bool = False,
        over_limit: bool = False,
        locale: str = "en",
        seen: tuple[Slot, str] | None = None,
        caller: str = "",
    ) -> tuple[Booking, Slot]:
        """Book places in a slot of `resource`; raises Invalid, NotFound, NotOpenYet, SlotUnavailable,
        LimitReached or SlotFull. Only staff may book `over_limit` (the venue's per-person limit). Its e-mails
        speak `locale`. `seen`: the slot as the caller has just read it, and its venue's time zone. `caller`: who
        sends the request (e.g. `addr:203.0.113.7`): an idempotency key replays for them alone."""
        problems = booking_problems(name, contact, party_size, resource.max_party, await self.country(resource))
        try:
            if problems:
                raise Invalid(problems)
            if seen and not idempotency_key and lacks_room(*seen, resource, party_size, self.clock.now()):
                raise SlotFull(slot_id)  # most attempts at a release: refused without a write transaction
            name, contact = clean_text(name), clean_text(contact)
            booked = await self.store.book(
                slot_id,
                name,
                contact,
                party_size,
                self.clock.now(),
                idempotency_key,
                for_staff=for_staff,
                over_limit=for_staff and over_limit,
                locale=locale,
                fingerprint=fingerprint(caller, slot_id, name, contact, party_size),
                resource_id=resource.id,
            )
        except (BookingError, Unavailable) as refused:
            self.observe(refused.code)
            raise
        self.observe("created")
        return booked

    def refuses_as_full(self, slot: Slot, venue: Venue, name: str, contact: str, party_size: object) -> bool:
        """Whether book() would refuse a public booking without an idempotency key SlotFull, as it stands: its
        fields valid, and `slot` (as the store keeps it full) without room for the party (middleware.known_full
        answers it so before the request enters the app, and tells `observe`)."""
        resource = venue.resource(slot.resource_id)
        problems = booking_problems(name, contact, party_size, resource.max_party, venue.country)
        return not problems and lacks_room(slot, venue.timezone, resource, party_size, self.clock.now())

    async def country(self, resource: Resource) -> str:
        """The country whose phone numbers a resource's venue reads ('' when it has none)."""
        venue = await self.store.venue_by_id(resource.venue_id)
        return venue.country if venue else ""

    async def cancel(self, reference: str, token: str) -> tuple[Booking, Slot]:
        """Cancel a booking with its secret token; raises NotFound or Forbidden."""
        booking, slot, _changed = await self.store.cancel(reference, token, self.clock.now())
        return booking, slot

    async def reschedule(self, reference: str, token: str, slot_id: int) -> tuple[Booking, Slot]:
        """Move a booking to another slot of its resource, in one transaction (see Store.reschedule)."""
        return await self.store.reschedule(reference, token, slot_id, self.clock.now())

    async def cancel_for_staff(self, booking_id: int) -> tuple[Booking, Slot]:
        """Staff cancel a booking (they need no token)."""
        found = await self.store.booking_by_id(booking_id)
        if found is None:
            raise NotFound(booking_id)
        return await self.cancel(found[0].reference, found[0].cancel_token)

    async def close_slot(self, slot_id: int, closed: bool) -> Slot:
        """Close a slot to new bookings, or reopen it (its free places are offered to its waitlist first)."""
        return await self.store.set_slot_closed(slot_id, closed, self.clock.now())

    async def join_waitlist(
        self, resource: Resource, slot_id: int, name: str, contact: str, party_size: object, locale: str = "en"
    ) -> tuple[WaitlistEntry, int]:
        """Wait for a place in a full slot; raises Invalid, NotFound, SlotAvailable, LimitReached, …"""
        problems = booking_problems(name, contact, party_size, resource.max_party, await self.country(resource))
        if problems:
            raise Invalid(problems)
        return await self.store.join_waitlist(
            slot_id, clean_text(name), clean_text(contact), party_size, self.clock.now(), locale
        )

    async def accept_offer(self, reference: str, token: str, locale: str = "en") -> tuple[Booking, Slot]:
        """Take up the place a waitlist offer holds: it becomes a booking."""
        return await self.store.accept_offer(reference, token, self.clock.now(), locale)

    async def leave_waitlist(self, reference: str, token: str) -> WaitlistEntry:
        """Stop waiting; a place held for this entry passes on."""
        return await self.store.leave_waitlist(reference, token, self.clock.now())

    async def expire_offers(self) -> int:
        """Offers whose time is up pass to the next in line (or back to the public)."""
        return await self.store.expire_offers(self.clock.now())

    async def enter_draw(
        self,
        venue: Venue,
        resource: Resource,
        day: date,
        name: str,
        contact: str,
        party_size: object,
        preferences: object,
        locale: str = "en",
    ) -> tuple[DrawEntry, Draw]:
        """Enter a resource-day's draw (抽签) with up to three preferred slot ids, in order; raises Invalid (the
        person's fields, or `preferences`), NotADraw, DrawClosed or AlreadyEntered."""
        if resource.release_mode != DRAW:
            raise NotADraw(resource.id)
        problems = booking_problems(name, contact, party_size, resource.max_party)
        closes = window(resource, day, venue.timezone)[1]
        offered = open_places(await self.store.slots_for_day(resource.id, day), closes)
        if problem := preference_problem(preferences, offered):
            problems["preferences"] = problem
        if problems:
            raise Invalid(problems)
        return await self.store.enter_draw(
            resource.id,
            day,
            clean_text(name),
            clean_text(contact),
            party_size,
            tuple(preferences),
            self.clock.now(),
            locale,
        )

    async def withdraw_entry(self, reference: str, token: str) -> DrawEntry:
        """Withdraw a draw entry while entries are open; raises NotFound, Forbidden or DrawClosed."""
        return await self.store.withdraw_entry(reference, token, self.clock.now())

    async def open_draw(self, resource: Resource, day: date) -> Draw:
        """A resource-day's draw, opened now if it is not yet (call it while its entries are open)."""
        return await self.store.open_draw(resource.id, day, self.clock.now())

    async def keep_draws(self) -> datetime | None:
        """Draw every draw that is due, and open those whose entries have opened (each once, whichever process
        runs this); when this should run next: the next instant or entry window it knows of (None: none)."""
        now, coming = self.clock.now(), []
        for draw in await self.store.open_draws():
            venue = await self.store.venue_of_resource(draw.resource_id)
            closes = window(venue.resource(draw.resource_id), draw.local_date, venue.timezone)[1]
            if closes <= now:
                await self.store.run_draw(draw.id, now)
            else:
                coming.append(closes)
        for venue in await self.store.venues():
            for resource in venue.open_resources:
                if resource.release_mode == DRAW:
                    coming += await self._open_entries(venue, resource, now)
        return min(coming, default=None)

    async def _open_entries(self, venue: Venue, resource: Resource, now: datetime) -> list[datetime]:
        """Open a resource's draws whose entries are open (days with slots); when the next entries open or close."""
        coming, today = [], local_today(venue.timezone, now)
        for day in (today + timedelta(days=n) for n in range(resource.horizon_days + 2)):
            opens, closes = window(resource, day, venue.timezone)
            if now < opens:  # later days open later still
                return [*coming, opens]
            if (
                now < closes
                and not await self.store.draw(resource.id, day)
                and await self.store.slots_for_day(resource.id, day)
            ):
                await self.store.open_draw(resource.id, day, now)
                coming.append(closes)
        return coming

    async def mark(self, booking_id: int, attendance: str | None) -> tuple[Booking, Slot]:
        """Mark a booking checked in or no-show (None clears the mark)."""
        return await self.store.set_attendance(booking_id, attendance, self.clock.now())

    async def call(self, booking_id: int, counter: str) -> tuple[Booking, Slot]:
        """Call one ticket to a counter or room."""
        return await self.store.call(booking_id, counter, self.clock.now())

    async def call_next(self, resource_id: int, day: date, counter: str) -> tuple[Booking, Slot] | None:
        """Call the next ticket waiting in a resource's line; None when nobody waits."""
        return await self.store.call_next(resource_id, day, counter, self.clock.now())

    async def requeue(self, booking_id: int) -> tuple[Booking, Slot]:
        """A called ticket missed its turn (过号): back into the line."""
        return await self.store.requeue(booking_id, self.clock.now())

    async def add_venue(
        self,
        slug: str,
        name: str,
        kind: str,
        timezone: str,
        per_person_limit: int = 0,
        *,
        address: str = "",
        phone: str = "",
        name_zh: str = "",
        country: str = "",
    ) -> int:
        """A new venue (raises Duplicate when the slug is taken, Invalid for an unusable address, phone, name or
        country)."""
        return await self.store.add_venue(
            slug, name, kind, timezone, per_person_limit, **venue_details(address, phone, name_zh, country)
        )

    async def edit_venue(
        self,
        venue: Venue,
        name: str,
        kind: str,
        timezone: str,
        archived: bool,
        per_person_limit: int | None = None,
        *,
        address: str | None = None,
        phone: str | None = None,
        name_zh: str | None = None,
        country: str | None = None,
    ) -> None:
        """A venue's new details (None: as it was); its pages follow at once. Raises Invalid like add_venue."""
        limit = venue.per_person_limit if per_person_limit is None else per_person_limit
        await self.store.update_venue(
            venue.id, name, kind, timezone, archived, limit, **venue_details(address, phone, name_zh, country)
        )

    async def add_resource(
        self,
        venue: Venue,
        slug: str,
        name: str,
        rules: list[OpeningRule],
        exceptions: list[DayException] = (),
        **settings,
    ) -> int:
        """A new resource with its schedule and its slots, in one transaction (raises Duplicate).

        `settings`: max_party, horizon_days, min_notice_minutes, release_days_before, release_time.
        """
        return await self.store.add_resource(
            venue.id, slug, name, rules, exceptions=exceptions, now=self.clock.now(), **settings
        )

    async def edit_resource(
        self,
        resource: Resource,
        rules: list[OpeningRule] | None = None,
        exceptions: list[DayException] | None = None,
        **changes,
    ) -> list[date]:
        """A resource's settings (`changes` to RESOURCE_SETTINGS) and schedule (unchanged when None), its slots
        regenerated with them in one transaction. Raises CapacityConflict (changing nothing) when a booked slot
        would lose room, move or vanish."""
        settings = {k: getattr(resource, k) for k in RESOURCE_SETTINGS} | changes
        return await self.store.edit_resource(
            resource.id,
            settings,
            list(resource.rules if rules is None else rules),
            list(resource.exceptions if exceptions is None else exceptions),
            self.clock.now(),
        )

    async def record(
        self,
        actor: str,
        address: str,
        action: str,
        subject: str,
        venue_id: int | None = None,
        day: date | None = None,
        **about: int | date | None,
    ) -> None:
        """Keep a staff action in the audit trail, stamped with the clock (`about`: the booking_id, slot_id or the
        last_date of a range it was about; never a person's name or contact)."""
        await self.store.record(
            AuditEntry(0, self.clock.now(), actor, address, action, subject, venue_id, day, **about)
        )

    async def erase_ended(self, retention: timedelta) -> int:
        """Erase personal data of bookings and waitlist entries that ended more than `retention` ago."""
        erased = await self.store.erase_ended(self.clock.now() - retention)
        if erased:
            await self.record("retention", "-", "erase_ended", f"{erased} erased, older than {retention.days} days")
        return erased

    async def erase_person(self, contact: str, actor: str, address: str) -> int:
        """Erase one person's data on request (matched by their contact, normalised)."""
        erased = await self.store.erase_person(contact)
        await self.record(actor, address, "erase_person", f"{erased} erased")
        return erased

    async def add_webhook(self, venue_id: int, url: str, secret: str, events: list[str] | None = None) -> int:
        """Register a venue's webhook endpoint, taking these events (None: all); the views check the URL."""
        return await self.store.add_webhook(venue_id, url, secret, self.clock.now(), events)

    async def remove_webhook(self, webhook_id: int) -> None:
        """Stop sending to an endpoint (raises NotFound)."""
        await self.store.remove_webhook(webhook_id)

    async def create_api_key(
        self, name: str, scopes: frozenset[str], venue_ids: frozenset[int], created_by: str
    ) -> tuple[str, int]:
        """A new API key with these scopes on these venues (raises Invalid): the key, to show once, and its id."""
        if problems := keys.key_problems(name, scopes, venue_ids):
            raise Invalid(problems)
        key = keys.new_key()
        key_id = await self.store.add_api_key(
            clean_text(name), keys.digest(key), key[: keys.SHOWN], scopes, venue_ids, created_by, self.clock.now()
        )
        return key, key_id

    async def revoke_api_key(self, key_id: int) -> keys.ApiKey:
        """Revoke a key: refused from its next call on (raises NotFound)."""
        return await self.store.revoke_api_key(key_id, self.clock.now())

    async def api_key(self, key: str) -> keys.ApiKey | None:
        """The standing key a call presents (None: unknown or revoked); its use noted, at most once a minute."""
        found = await self.store.api_key(keys.digest(key)) if key.startswith(keys.MARK) else None
        if found and found.use_to_note(now := self.clock.now()):
            await self.store.note_key_use(found.id, now)
        return found

    async def set_webhook_events(self, webhook_id: int, events: list[str]) -> None:
        """The events an endpoint takes (raises NotFound)."""
        await self.store.set_webhook_events(webhook_id, events)

    async def pause_webhook(self, webhook_id: int, paused: bool) -> None:
        """Disable an endpoint, or enable it again (raises NotFound)."""
        if paused:
            await self.store.pause_webhook(webhook_id, self.clock.now())
        else:
            await self.store.resume_webhook(webhook_id)

    async def rotate_webhook_secret(self, webhook_id: int, secret: str) -> None:
        """A new secret; the old one signs too for a day (raises NotFound)."""
        await self.store.rotate_webhook_secret(webhook_id, secret, self.clock.now())

    async def send_test_event(self, webhook_id: int) -> None:
        """Queue a webhook.test event for one endpoint (raises NotFound)."""
        await self.store.send_test_event(webhook_id, self.clock.now())

    async def resend_delivery(self, message_id: int) -> None:
        """Send a webhook delivery again now (raises NotFound)."""
        await self.store.resend_message(message_id, self.clock.now())

    async def set_staff_password(self, username: str, password_hash: str) -> None:
        """Create a staff account or change its password (its open sessions end)."""
        await self.store.set_staff_password(username, password_hash)

    async def add_staff(self, username: str, password_hash: str) -> bool:
        """Create a staff account unless it exists (a password set since is never overwritten)."""
        return await self.store.add_staff(username, password_hash)

    async def set_staff_access(self, username: str, role: str, venue_ids: frozenset[int]) -> bool:
        """Give an account its role and venues (raises Invalid when they do not go together); its sessions and
        streams end. False when there is no such account."""
        if (code := access.problem(role, venue_ids)) is not None:
            raise Invalid({code: code})
        return await self.store.set_staff_access(username, role, frozenset() if role == access.OWNER else venue_ids)

    async def end_staff_sessions(self, username: str) -> None:
        """Log a staff account out everywhere."""
        await self.store.end_staff_sessions(username)

    async def create_staff(self, username: str, role: str, venue_ids: frozenset[int]) -> int | None:
        """A new staff account with no password yet (raises Invalid for a role and venues that do not go
        together); its id, or None when the name is taken."""
        if (code := access.problem(role, venue_ids)) is not None:
            raise Invalid({code: code})
        return await self.store.create_staff(username, role, frozenset() if role == access.OWNER else venue_ids)

    async def set_staff_enabled(self, staff_id: int, enabled: bool) -> bool:
        """Enable or disable an account (disabling ends its sessions and streams; raises LastOwner)."""
        return await self.store.set_staff_enabled(staff_id, enabled)

    async def issue_password_link(self, staff_id: int) -> str | None:
        """A new one-time token to set an enabled account's password within LINK_LIFETIME (only its sha256 is
        kept, and the account's earlier link stops working); None when there is no such enabled account."""
        token, now = secrets.token_urlsafe(32), self.clock.now()
        issued = await self.store.issue_password_link(staff_id, link_hash(token), now, now + LINK_LIFETIME)
        return token if issued else None

    async def password_link_holder(self, token: str) -> str | None:
        """The name of the account a still usable link is for."""
        return await self.store.password_link_holder(link_hash(token), self.clock.now())

    async def use_password_link(self, token: str, password_hash: str) -> str | None:
        """Set an account's password with its link, once (its sessions end); its name, or None."""
        return await self.store.use_password_link(link_hash(token), password_hash, self.clock.now())

    async def staff_logged_in(self, username: str) -> None:
        """A good login: when, and no failures since."""
        await self.store.staff_logged_in(username, self.clock.now())

    async def staff_login_failed(self, username: str) -> None:
        """A failed login at a name (counted for an account of that name)."""
        await self.store.staff_login_failed(username)

    async def count_attempt(self, keys: list[str], window: timedelta) -> list[tuple[int, timedelta]]:
        """Count an attempt (a login, a booking) under each key, before acting on it: (attempts, time left) per key."""
        now = self.clock.now()
        return [(n, start + window - now) for n, start in await self.store.count_attempt(keys, now, window)]

    async def forget_attempts(self, keys: list[str]) -> None:
        """An attempt succeeded (a login, a find): its keys start afresh."""
        await self.store.forget_attempts(keys)


def venue_details(
    address: str | None, phone: str | None, name_zh: str | None, country: str | None = None
) -> dict[str, str]:
    """Those given (not None) of a venue's address, phone, Chinese name and country, as stored (cleaned; the
    country in capitals); or Invalid."""
    problems = detail_problems(address or "", phone or "", name_zh or "", clean_text(country or ""))
    if problems:
        raise Invalid(problems)
    given = {"address": address, "phone": phone, "name_zh": name_zh, "country": country and country.upper()}
    return {k: clean_text(v) for k, v in given.items() if v is not None}


def lacks_room(slot: Slot, timezone: str, resource: Resource, party_size: int, now: datetime) -> bool:
    """Whether a slot, open to the public now, has no room for the party (the store would refuse it SlotFull)."""
    return slot_state(slot, resource, timezone, now) in (OPEN, FULL) and slot.remaining < party_size


def fingerprint(caller: str, slot_id: int, name: str, contact: str, party_size: int) -> str:
    """What makes a booking request the same request: who sent it and what it asks (stored with its idempotency
    key, so that the key's booking goes back only to the caller who made it)."""
    return hashlib.sha256(f"{caller}\0{slot_id}\0{name}\0{contact}\0{party_size}".encode()).hexdigest()
