"""Who may do what: a staff account's role, its venues, an action and a venue decide (nothing else does)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

OWNER, MANAGER, DESK = "owner", "manager", "desk"
ROLES = (OWNER, MANAGER, DESK)

# What each action is, and the roles that may do it on their own venues; an owner may do everything, everywhere.
BOARD = "board"  # the day board and its stream, bookings for callers, the line, the day's list and day CSV
VENUE = "venue"  # a venue's details, resources, schedules and release rules
EXPORT = "export"  # range exports
WEBHOOKS = "webhooks"  # webhook endpoints and their deliveries
KEYS = "keys"  # API keys for the account's venues
AUDIT = "audit"  # the audit trail
OWNERS = "owners"  # new venues, erasure on request: an owner's alone
HOME = "home"  # the back office's first page (it lists only the account's venues)
STAFF = "staff"  # staff accounts: an owner's are all of them, a manager's the desk accounts of its own venues
ACCOUNT = "account"  # one's own password
ALLOWED = {
    BOARD: {MANAGER, DESK},
    VENUE: {MANAGER},
    EXPORT: {MANAGER},
    WEBHOOKS: {MANAGER},
    KEYS: {MANAGER},
    AUDIT: {MANAGER},
    OWNERS: set(),
    HOME: {MANAGER, DESK},
    STAFF: {MANAGER},
    ACCOUNT: {MANAGER, DESK},
}
ACTIONS = tuple(ALLOWED)


@dataclass(frozen=True)
class Access:
    """A staff account's role and the venues it has (an owner's list is empty: it has them all)."""

    role: str
    venues: frozenset[int] = frozenset()

    def may(self, action: str, venue_id: int | None = None) -> bool:
        """Whether this account may do the action (on the venue, when it is about one)."""
        return may(self.role, self.venues, action, venue_id)

    def sees(self, venue_id: int) -> bool:
        """Whether this account may see the venue at all (it is in the lists it is shown)."""
        return self.role == OWNER or venue_id in self.venues


def may(role: str, venues: Collection[int], action: str, venue_id: int | None = None) -> bool:
    """The one rule: an owner may do everything; a manager or desk account its role's actions, on its venues.
    Without a venue, the action in general (the view then shows only the account's venues)."""
    if role == OWNER:
        return True
    if role not in ALLOWED.get(action, ()):
        return False
    return bool(venues) if venue_id is None else venue_id in venues


def manages(who: Access, role: str, venues: Collection[int]) -> bool:
    """Whether `who` may create or look after an account of this role on these venues: an owner any account, a
    manager a desk account whose venues are all among its own."""
    if who.role == OWNER:
        return True
    return who.role == MANAGER and role == DESK and bool(venues) and set(venues) <= who.venues


def problem(role: str, venues: Collection[int]) -> str | None:
    """Why a role with these venues cannot be given (None: it can): owners need none, the others at least one."""
    if role not in ROLES:
        return "role"
    if role != OWNER and not venues:
        return "venues"
    return None


@dataclass(frozen=True)
class StaffAccount:
    """A staff account as the staff pages list it (never its password)."""

    id: int
    username: str
    role: str
    venues: frozenset[int]
    enabled: bool
    last_login_at: datetime | None  # UTC
    failed_logins: int  # failed logins since the last good one


class LastOwner(Exception):
    """The change would leave no enabled owner account."""
