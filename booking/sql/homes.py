"""Which resource each slot read belongs to: a booking finds its slot's resource and venue without a trip to the
database, and its one transaction reads the slot (and checks that it is still that resource's)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ..model import Slot
from .slots import _slots

HOMES_KEPT = 200_000  # slots whose resource is kept at most (then all are forgotten, and read again as needed)


class SlotHomes:
    """SqlStore's slots' resources as read (`db`, `_homes` and `_venues_era` are SqlStore's). A slot never moves to
    another resource; its id could name another slot only once it is deleted, which a change to the venues
    announces (and which forgets them all, with the venues)."""

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

    async def slots_for_day(self, resource_id: int, day: date) -> list[Slot]:
        """A resource's slots on a venue-local date, in time order."""
        era = self._venues_era
        slots = await self.db.read(
            _slots, "resource_id = :resource_id AND local_date = :day", {"resource_id": resource_id, "day": day}
        )
        self._note_homes(slots, era)
        return slots
