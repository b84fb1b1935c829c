"""API keys: what a key may do (its scopes) and where (its venues). The key is shown once and kept only as its
sha256: a key is 256 random bits, so its hash cannot be reversed by guessing (a slow password hash earns nothing
against that, and would slow down every call the key makes)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from .contacts import clean_text

BOOKINGS_READ, BOOKINGS_WRITE = "bookings:read", "bookings:write"
ATTENDANCE_WRITE, WEBHOOKS_MANAGE = "attendance:write", "webhooks:manage"
SCOPES = (BOOKINGS_READ, BOOKINGS_WRITE, ATTENDANCE_WRITE, WEBHOOKS_MANAGE)
MARK = "sk_"  # every key starts with it: a key that leaks is easy to find (and to tell from other secrets)
SHOWN = len(MARK) + 8  # the part of a key the lists show, to tell keys apart
NAME_MAX = 100
USE_NOTED_EVERY = timedelta(minutes=1)  # a key's last use is written at most this often


@dataclass(frozen=True)
class ApiKey:
    """A key's record: never the key itself, only its first characters (`prefix`)."""

    id: int
    name: str
    prefix: str
    scopes: frozenset[str]
    venues: frozenset[int]
    created_by: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def allows(self, scope: str, venue_id: int | None = None) -> bool:
        """Whether the key has the scope (on the venue, when the call is about one)."""
        return scope in self.scopes and (venue_id is None or venue_id in self.venues)

    def use_to_note(self, now: datetime) -> bool:
        """Whether a use now should be written down (the last one noted is a minute old, or none is)."""
        return self.last_used_at is None or now - self.last_used_at >= USE_NOTED_EVERY


def new_key() -> str:
    """A new key: `sk_` and 43 characters of 256 random bits."""
    return MARK + secrets.token_urlsafe(32)


def digest(key: str) -> str:
    """The form a key is stored and looked up in."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_problems(name: str, scopes: Collection[str], venue_ids: Collection[int]) -> dict[str, str]:
    """What is wrong with a new key's name, scopes and venues (field -> problem code; empty: nothing)."""
    problems = {}
    if not clean_text(name):
        problems["name"] = "required"
    elif len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        problems["name"] = "invalid"
    if not scopes or not set(scopes) <= set(SCOPES):
        problems["scopes"] = "required" if not scopes else "unknown"
    if not venue_ids:
        problems["venues"] = "required"
    return problems
