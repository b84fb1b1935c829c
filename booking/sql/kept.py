"""What the store keeps of the slots it reads, between transactions: each one's resource (a booking finds its slot's
resource and venue without a trip to the database; its one transaction reads the slot and checks that it is still
that resource's), and the full ones for a while (a release's refusals read nothing)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from time import monotonic

from ..model import Slot
from .slots import _slots

HOMES_KEPT = 200_000  # slots whose resource is kept at most (then all are forgotten, and read again as needed)
FULL_KEPT, FULL_KEPT_SECONDS = 10_000, 1.0  # full slots kept at most, and for how long without a change heard


class KeptSlots:
    """SqlStore's slots as kept (`db`, `_homes`, `_venues_era`, `_full` and `_full_era` are SqlStore's). A slot never
    moves to another resource; its id could name another slot only once it is deleted, which a change to the venues
    announces (and which forgets every slot's resource, with the venues)."""

    def resource_of_slot(self, slot_id: int) -> int | None:
        """The resource of a slot read since the venues last changed (None: not known), without reading."""
        return self._homes.get(slot_id)

    def _note_homes(self, slots: Iterable[Slot], era: int) -> None:
        """Keep the slots' resources, unless a change to the venues overtook the read (`era`: as it began)."""
        if era != self._venues_era:
            return
        if len(self._homes) >= HOMES_KEPT:
            self._homes.clear()
        self._homes.update((slot.id, slot.resource_id) for slot in slots)

    def kept_slot(self, slot_id: int) -> Slot | None:
        """A slot read full, as kept, without reading; None when none is kept."""
        kept = self._full.get(slot_id)
        return kept[0] if kept and monotonic() < kept[1] else None

    def _keep_full(self, slots: Iterable[Slot], era: int) -> None:
        """Keep the full ones of slots read, unless a change overtook the read (`era`: as it began)."""
        if era != self._full_era:
            return
        for slot in slots:
            if slot.remaining <= 0:
                if len(self._full) >= FULL_KEPT:
                    self._full.clear()
                self._full[slot.id] = (slot, monotonic() + FULL_KEPT_SECONDS)

    async def slots_for_day(self, resource_id: int, day: date) -> list[Slot]:
        """A resource's slots on a venue-local date, in time order."""
        era = self._venues_era
        slots = await self.db.read(
            _slots, "resource_id = :resource_id AND local_date = :day", {"resource_id": resource_id, "day": day}
        )
        self._note_homes(slots, era)
        return slots
