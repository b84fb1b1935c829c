"""Queue calling: ticket numbers, call next / call / re-queue (过号), and the holder's live 'N ahead of you'."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.support.helpers import (
    act,
    board_url,
    booked_earlier,
    clinic_slot,
    clinic_today,
    public_booking,
    read_until,
    streams_closed,
    text,
)
from tests.test_pages import booking_link


@pytest.fixture(autouse=True)
async def bistro_takes_tickets(service, store):
    """Tickets and "N ahead of you" are a clinic's (or a barber's) habit: the test venue takes them as a clinic."""
    venue = await store.venue("test-bistro")
    await service.edit_venue(venue, venue.name, "clinic", venue.timezone, False)


async def book(service, resource, slot, name="Patient"):
    booking, _ = await service.book(resource, slot.id, name, "12345", 1)
    return booking


async def slots_of(store, resource, day):
    return await store.slots_for_day(resource.id, day)


async def call_next(client, resource, day, counter: str = ""):
    return await act(client, f"/admin/resources/{resource.id}/call-next", day=day.isoformat(), counter=counter)


async def called_ids(store, venue_id, day) -> set[int]:
    return {b.id for b, _ in await store.bookings_on(venue_id, day) if b.called_at}


async def press_call_next(client, store, venue, resource, day, counter: str = "") -> tuple[int, str]:
    """Press 'call next' on the board (htmx): the ticket number it called and the board's 'Last called'."""
    before = await called_ids(store, venue.id, day)
    response = await act(
        client, f"/admin/resources/{resource.id}/call-next", htmx=True, day=day.isoformat(), counter=counter
    )
    assert response.status_code == 200
    [called] = await called_ids(store, venue.id, day) - before
    shown = re.search(r"Last called: (\w+)", await text(response))
    return (await store.booking_by_id(called))[0].ticket, shown and shown.group(1)


async def ticket_called(store, booking_id) -> bool:
    return (await store.booking_by_id(booking_id))[0].called_at is not None


# -- numbers


async def test_tickets_are_numbered_in_order_per_resource_and_day(store, hub, venue, tomorrow, service):
    tables, bar = venue.resource("tables"), venue.resource("bar")
    tables_tomorrow = await slots_of(store, tables, tomorrow)
    first = [await book(service, tables, tables_tomorrow[i]) for i in (5, 0, 5)]
    assert [b.ticket for b in first] == [1, 2, 3]
    assert (await book(service, bar, (await slots_of(store, bar, tomorrow))[0])).ticket == 1
    later = tomorrow + timedelta(days=1)
    assert (await book(service, tables, (await slots_of(store, tables, later))[0])).ticket == 1
    # a cancelled ticket's number is never given out again
    await service.cancel(first[2].reference, first[2].cancel_token)
    assert (await book(service, tables, tables_tomorrow[1])).ticket == 4


async def test_ticket_labels_use_one_letter_per_resource(admin, store, hub, venue, tomorrow, service):
    tables, bar = venue.resource("tables"), venue.resource("bar")
    await book(service, tables, (await slots_of(store, tables, tomorrow))[0], "Tab Le")
    await book(service, bar, (await slots_of(store, bar, tomorrow))[0], "Ba R")
    html = await text(await admin.get(board_url(tomorrow)))
    assert re.search(r"<strong>A001</strong> <bdi>Tab Le</bdi>", html)
    assert re.search(r"<strong>B001</strong> <bdi>Ba R</bdi>", html)


# -- calling


async def test_call_next_goes_by_slot_start_then_ticket(admin, store, hub, venue, tomorrow, service):
    tables = venue.resource("tables")
    slots = await slots_of(store, tables, tomorrow)  # 08:00, 09:00, 10:00, ...
    ten, eight_a, eight_b, nine = [await book(service, tables, slots[i]) for i in (2, 0, 0, 1)]
    assert [b.ticket for b in (ten, eight_a, eight_b, nine)] == [1, 2, 3, 4]
    called = [await press_call_next(admin, store, venue, tables, tomorrow, "Desk 1") for _ in range(4)]
    # the board shows the ticket just called, even when calls come within one second
    assert called == [(2, "A002"), (3, "A003"), (4, "A004"), (1, "A001")]
    assert {b.called_to for b, _ in await store.bookings_on(venue.id, tomorrow)} == {"Desk 1"}
    nobody = await call_next(admin, tables, tomorrow)
    assert nobody.status_code == 409
    assert "Nobody is waiting." in await text(nobody)


async def test_call_next_skips_cancelled_marked_and_already_called_tickets(admin, store, hub, venue, tomorrow, service):
    tables = venue.resource("tables")
    slot = (await slots_of(store, tables, tomorrow))[0]
    gone, no_show, called, waiting = [await book(service, tables, slot) for _ in range(4)]
    await service.cancel(gone.reference, gone.cancel_token)
    await act(admin, f"/admin/bookings/{no_show.id}/attendance", attendance="no_show")
    await act(admin, f"/admin/bookings/{called.id}/call", counter="Room 1")
    assert (await call_next(admin, tables, tomorrow)).status_code == 303
    assert await ticket_called(store, waiting.id)
    assert not await ticket_called(store, gone.id) and not await ticket_called(store, no_show.id)
    assert (await call_next(admin, tables, tomorrow)).status_code == 409


async def test_call_next_only_calls_its_own_resource_and_day(admin, store, hub, venue, tomorrow, service):
    tables, bar = venue.resource("tables"), venue.resource("bar")
    at_bar = await book(service, bar, (await slots_of(store, bar, tomorrow))[0])
    later = await book(service, tables, (await slots_of(store, tables, tomorrow + timedelta(days=1)))[0])
    assert (await call_next(admin, tables, tomorrow)).status_code == 409
    assert not await ticket_called(store, at_bar.id) and not await ticket_called(store, later.id)


async def test_call_a_ticket_to_a_counter(admin, store, hub, venue, tomorrow, service):
    tables = venue.resource("tables")
    slot = (await slots_of(store, tables, tomorrow))[0]
    first, second = await book(service, tables, slot), await book(service, tables, slot)
    response = await act(admin, f"/admin/bookings/{second.id}/call", counter="Room 3")
    assert response.status_code == 303
    called, _ = await store.booking_by_id(second.id)
    assert called.called_at is not None and called.called_to == "Room 3"
    html = await text(await admin.get(board_url(tomorrow)))
    assert "called → Room 3" in html and "Last called: A002" in html
    # call next takes the one still waiting
    await call_next(admin, tables, tomorrow)
    assert await ticket_called(store, first.id)


async def test_the_counter_is_remembered_for_the_session(admin, store, hub, venue, tomorrow, service):
    tables = venue.resource("tables")
    slot = (await slots_of(store, tables, tomorrow))[0]
    first, second = await book(service, tables, slot), await book(service, tables, slot)
    await call_next(admin, tables, tomorrow, "Room 7")
    await call_next(admin, tables, tomorrow)  # the same clerk, the same room
    assert (await store.booking_by_id(second.id))[0].called_to == "Room 7"
    assert (await store.booking_by_id(first.id))[0].called_to == "Room 7"


async def test_call_next_with_a_bad_day_is_400(admin, venue):
    response = await act(admin, f"/admin/resources/{venue.resource('tables').id}/call-next", day="someday")
    assert response.status_code == 400


async def test_missed_ticket_requeues_behind_those_due_and_ahead_of_later_ones(admin, store, hub, clinic, service):
    dr_li, today = clinic.resource("dr-li"), clinic_today(clinic)
    ten = await booked_earlier(store, hub, await clinic_slot(store, clinic, 10))  # A001
    nine = await booked_earlier(store, hub, await clinic_slot(store, clinic, 9))  # A002
    three = await book(service, dr_li, await clinic_slot(store, clinic, 15))  # A003, due this afternoon
    assert [ten.ticket, nine.ticket, three.ticket] == [1, 2, 3]
    await call_next(admin, dr_li, today, "Room 2")
    assert await ticket_called(store, nine.id)  # the 09:00 patient first
    # they did not come: back into the line (过号)
    response = await act(admin, f"/admin/bookings/{nine.id}/requeue")
    assert response.status_code == 303
    missed, _ = await store.booking_by_id(nine.id)
    assert missed.called_at is None and missed.called_to is None and missed.requeued_at is not None
    order = [await press_call_next(admin, store, clinic, dr_li, today, "Room 2") for _ in range(3)]
    # the 10:00 patient (due), then the re-queued one, then the afternoon's
    assert order == [(1, "A001"), (2, "A002"), (3, "A003")]


async def test_requeue_button_shows_only_for_called_tickets(admin, store, hub, venue, tomorrow, service):
    tables = venue.resource("tables")
    slot = (await slots_of(store, tables, tomorrow))[0]
    booking = await book(service, tables, slot)
    requeue = f'action="/admin/bookings/{booking.id}/requeue"'
    assert requeue not in await text(await admin.get(board_url(tomorrow)))
    await act(admin, f"/admin/bookings/{booking.id}/call", counter="1")
    assert requeue in await text(await admin.get(board_url(tomorrow)))


# -- the holder's ticket


async def test_confirmation_shows_the_ticket_and_how_many_are_ahead(app, store, hub, venue, tomorrow, service):
    tables = venue.resource("tables")
    slots = await slots_of(store, tables, tomorrow)
    await book(service, tables, slots[0])
    await book(service, tables, slots[1])
    reference, token = booking_link(await public_booking(app, slots[2].id))
    client = app.test_client()
    page = await client.get(f"/bookings/{reference}", query_string={"token": token})
    html = await text(page)
    assert page.status_code == 200
    assert "Your ticket" in html and "<strong>A003</strong>" in html
    assert "2 ahead of you" in html and 'data-ahead="2"' in html
    assert f'sse-connect="/bookings/{reference}/events?token={token}"' in html


async def test_first_in_line_has_nobody_ahead(app, store, venue, slot):
    reference, token = booking_link(await public_booking(app, slot.id))
    html = await text(await app.test_client().get(f"/bookings/{reference}", query_string={"token": token}))
    assert "<strong>A001</strong>" in html and "You are first in line." in html and 'data-ahead="0"' in html


async def test_ticket_stream_counts_down_and_says_when_it_is_your_turn(
    app, admin, store, hub, venue, tomorrow, service
):
    tables = venue.resource("tables")
    slots = await slots_of(store, tables, tomorrow)
    await book(service, tables, slots[0])
    await book(service, tables, slots[0])
    reference, token = booking_link(await public_booking(app, slots[1].id, name="Holder Name"))
    holder = app.test_client()
    async with holder.request(f"/bookings/{reference}/events", query_string={"token": token}) as connection:
        first = await read_until(connection, b"</div>")
        assert first.startswith(b"retry: ") and b"event: ticket\n" in first
        assert b'data-ahead="2"' in first and b"A003" in first
        await call_next(admin, tables, tomorrow, "Room 4")
        after_one = await read_until(connection, b"</div>")
        assert b'data-ahead="1"' in after_one and b"Now calling: A001" in after_one
        await call_next(admin, tables, tomorrow, "Room 4")
        assert b'data-ahead="0"' in await read_until(connection, b"</div>")
        await call_next(admin, tables, tomorrow, "Room 4")
        turn = await read_until(connection, b"</div>")
        assert b"It is your turn: Room 4" in turn
        for chunk in (first, after_one, turn):
            assert b"Holder Name" not in chunk  # the ticket carries no name
        await connection.disconnect()
    await streams_closed(hub)


async def test_ticket_stream_follows_a_requeue(app, admin, store, hub, venue, tomorrow):
    tables = venue.resource("tables")
    slots = await slots_of(store, tables, tomorrow)
    reference, token = booking_link(await public_booking(app, slots[0].id))
    booking, _ = await store.booking(reference)
    async with app.test_client().request(f"/bookings/{reference}/events", query_string={"token": token}) as connection:
        await read_until(connection, b'data-ahead="0"')
        await act(admin, f"/admin/bookings/{booking.id}/call", counter="Room 1")
        assert b"It is your turn: Room 1" in await read_until(connection, b"</div>")
        await act(admin, f"/admin/bookings/{booking.id}/requeue")
        back = await read_until(connection, b"</div>")
        assert b"It is your turn" not in back and b"You are first in line." in back
        await connection.disconnect()
    await streams_closed(hub)


async def test_ticket_page_and_stream_refuse_a_wrong_token(app, store, hub, venue, slot):
    reference, token = booking_link(await public_booking(app, slot.id))
    client = app.test_client()
    for wrong in ("nope", "", token[:-1]):
        assert (await client.get(f"/bookings/{reference}", query_string={"token": wrong})).status_code == 403
        assert (await client.get(f"/bookings/{reference}/events", query_string={"token": wrong})).status_code == 403
    assert (await client.get("/bookings/ZZZZZZZZ/events", query_string={"token": token})).status_code == 404
    assert hub.count() == 0


async def test_a_cancelled_booking_shows_no_ticket(app, venue, slot):
    reference, token = booking_link(await public_booking(app, slot.id))
    client = app.test_client()
    form = {"csrf_token": "", "token": token}
    await client.get(f"/bookings/{reference}/cancel", query_string={"token": token})
    async with client.session_transaction() as session:
        form["csrf_token"] = session["csrf_token"]
    assert (await client.post(f"/bookings/{reference}/cancel", form=form)).status_code == 303
    html = await text(await client.get(f"/bookings/{reference}", query_string={"token": token}))
    assert "Booking cancelled" in html and "Your ticket" not in html
