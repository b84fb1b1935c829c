"""Slotcast's domain: venues, slots and bookings; storage; the change hub. Knows no HTTP or HTML."""
