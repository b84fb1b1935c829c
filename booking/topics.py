"""Topic names: what a subscriber watches and a change notifies."""

from __future__ import annotations

from datetime import date

from .model import Slot


def day(resource_id: int, on: date) -> str:
    """A resource's slots on one venue-local date."""
    return f"day:{resource_id}:{on.isoformat()}"


def slot(slot_id: int) -> str:
    """One slot's remaining places."""
    return f"slot:{slot_id}"


def of_slot(s: Slot) -> tuple[str, ...]:
    """Every topic a change to this slot touches."""
    return day(s.resource_id, s.local_date), slot(s.id)


def parse(topic: str) -> tuple[str, list[str]]:
    """('day', ['3', '2026-11-24']) from 'day:3:2026-11-24'."""
    kind, *args = topic.split(":")
    return kind, args
