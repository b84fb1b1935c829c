"""The hub: render once per change and locale, fan out the same bytes, bounded per subscriber."""

import asyncio
from datetime import UTC, datetime, timedelta

from booking.clock import ManualClock
from booking.hub import Hub, Render

PING, BYE = b": ping\n\n", b"event: close\n\n"
T0 = datetime(2026, 11, 29, 13, 48, tzinfo=UTC)


class Counter:
    """A renderer that says how often it was asked, and what it was asked; its renders hold until `valid_until`."""

    def __init__(self):
        self.calls = []
        self.moments = []  # each render's `at`: None, or the moment it was made ahead for
        self.state = 0
        self.valid_until = None

    async def __call__(self, topic, locale, version, at=None):
        self.calls.append((topic, locale))
        self.moments.append(at)
        await asyncio.sleep(0)
        return Render(
            f"id: {version}\nevent: table\ndata: {topic} {locale} v{self.state}\n\n".encode(), self.valid_until
        )


def drain(sub):
    chunk = b"".join(sub.pending.values())
    sub.pending.clear()
    return chunk


async def test_a_change_is_rendered_once_per_locale_and_fanned_out_as_the_same_bytes():
    render = Counter()
    hub = Hub(render)
    english = [hub.subscribe(["day:1"], "en") for _ in range(50)]
    chinese = [hub.subscribe(["day:1"], "zh_CN") for _ in range(30)]
    render.state = 1
    hub.notify("day:1")
    await hub.settle()
    assert sorted(render.calls) == [("day:1", "en"), ("day:1", "zh_CN")]
    sent_en = {id(s.pending["day:1"]) for s in english}
    assert len(sent_en) == 1 and b"en v1" in english[0].pending["day:1"]
    assert b"zh_CN v1" in chinese[0].pending["day:1"]


async def test_topics_without_subscribers_are_not_rendered():
    render = Counter()
    hub = Hub(render)
    hub.subscribe(["day:1"], "en")
    hub.notify("day:2")
    await hub.settle()
    assert render.calls == []


async def test_new_subscribers_share_the_current_render_until_the_next_change():
    render = Counter()
    hub = Hub(render)
    first = await asyncio.gather(*(hub.current("day:1", "en") for _ in range(20)))
    assert len(render.calls) == 1 and len(set(first)) == 1
    hub.subscribe(["day:1"], "en")
    hub.notify("day:1")
    await hub.settle()
    assert len(render.calls) == 2
    assert await hub.current("day:1", "en") != first[0]
    assert len(render.calls) == 2


async def test_a_burst_of_changes_coalesces_and_a_slow_subscriber_keeps_only_the_latest():
    render = Counter()
    hub = Hub(render)
    slow = hub.subscribe(["day:1"], "en")
    for state in range(1, 101):
        render.state = state
        hub.notify("day:1")
    await hub.settle()
    assert len(render.calls) < 10  # not one render per change
    assert list(slow.pending) == ["day:1"]
    assert b"v100" in slow.pending["day:1"]


async def test_one_stream_on_several_topics_gets_each_topic_latest():
    render = Counter()
    hub = Hub(render)
    sub = hub.subscribe(["a", "b"], "en")
    hub.notify("a", "b", "a")
    await hub.settle()
    assert set(sub.pending) == {"a", "b"}


async def test_unsubscribe_forgets_the_stream_and_its_topic():
    hub = Hub(Counter())
    sub = hub.subscribe(["day:1", "slot:2"], "en")
    other = hub.subscribe(["day:1"], "en")
    assert hub.count() == 3 and hub.count("day:1") == 2
    hub.unsubscribe(sub)
    assert hub.count("slot:2") == 0 and hub.count("day:1") == 1
    hub.unsubscribe(other)
    assert hub.count() == 0 and hub._subscribers == {} and hub._renders == {} and hub._versions == {}


async def test_changes_to_unwatched_topics_leave_nothing_behind():
    hub = Hub(Counter())
    hub.notify(*(f"slot:{i}" for i in range(1000)))
    assert hub._versions == {} and hub._dirty == set()


async def test_messages_yield_pending_and_close_ends_the_stream():
    hub = Hub(Counter(), farewell=BYE)
    sub = hub.subscribe(["day:1"], "en")
    received = []

    async def read():
        async for chunk in sub.messages():
            received.append(chunk)

    reader = asyncio.create_task(read())
    hub.notify("day:1")
    await hub.settle()
    await asyncio.sleep(0)
    hub.close()
    await asyncio.wait_for(reader, 1)
    assert b"event: table" in received[0]
    assert received[-1] == BYE


async def test_a_subscriber_whose_client_left_ends_at_once_and_sends_nothing_more():
    hub = Hub(Counter())
    idle, busy = hub.subscribe(["day:1"], "en"), hub.subscribe(["day:1"], "en")
    received = []

    async def read(sub):
        async for chunk in sub.messages():
            received.append(chunk)

    readers = [asyncio.create_task(read(sub)) for sub in (idle, busy)]
    await asyncio.sleep(0)  # both wait for a message
    busy.offer("day:1", b"unsent")
    idle.end()
    busy.end()
    await asyncio.wait_for(asyncio.gather(*readers), 1)
    assert received == [] and idle.waiter is None


async def test_heartbeat_reaches_every_stream_and_stops_on_close():
    hub = Hub(Counter(), heartbeat=0.01, ping=PING)
    subs = [hub.subscribe([f"t{i}"], "en") for i in range(3)]
    beat = asyncio.create_task(hub.beat())
    await asyncio.sleep(0.05)
    assert all(drain(s) == PING for s in subs)
    hub.close()
    await asyncio.wait_for(beat, 1)


async def test_a_failing_render_does_not_stop_later_changes():
    render = Counter()
    hub = Hub(render)
    sub = hub.subscribe(["day:1"], "en")
    original = render.__call__

    async def broken(topic, locale, version, at=None):
        raise RuntimeError("database went away")

    hub._render = broken
    hub.notify("day:1")
    await hub.settle()
    assert sub.pending == {}
    hub._render = original
    hub.notify("day:1")
    await hub.settle()
    assert b"event: table" in sub.pending["day:1"]


async def test_resync_resends_every_watched_topic_once():
    render = Counter()
    hub = Hub(render)
    subs = [hub.subscribe(["day:1", "slot:5"], "en"), hub.subscribe(["day:2"], "zh_CN")]
    hub.resync()  # e.g. after the PostgreSQL listener reconnected: changes may have been missed
    await hub.settle()
    assert sorted(render.calls) == [("day:1", "en"), ("day:2", "zh_CN"), ("slot:5", "en")]
    assert set(subs[0].pending) == {"day:1", "slot:5"} and set(subs[1].pending) == {"day:2"}


async def test_closed_returns_when_the_hub_closes():
    hub = Hub(Counter())
    waiting = asyncio.ensure_future(hub.closed())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    hub.close()
    await asyncio.wait_for(waiting, 1)


async def test_a_render_that_expired_is_never_handed_to_a_new_subscriber():
    render, clock = Counter(), ManualClock(T0)
    hub = Hub(render, clock=clock)
    render.valid_until = T0 + timedelta(minutes=12)  # e.g. a slot's notice cut-off
    first = await hub.current("day:1", "en")
    clock.advance(minutes=11)
    assert await hub.current("day:1", "en") is first and len(render.calls) == 1
    render.state = 1
    clock.advance(minutes=1)
    assert b"v1" in await hub.current("day:1", "en") and len(render.calls) == 2


async def test_an_expired_render_is_sent_again_once_for_all_subscribers():
    render, clock = Counter(), ManualClock(T0)
    hub = Hub(render, clock=clock)
    render.valid_until = T0 + timedelta(minutes=12)
    subs = [hub.subscribe(["day:1"], "en") for _ in range(20)]
    await hub.current("day:1", "en")
    expiring = asyncio.create_task(hub.expire())
    try:
        await asyncio.sleep(0.01)
        assert all(not s.pending for s in subs)  # nothing before its time
        render.state, render.valid_until = 1, None
        clock.advance(minutes=12)
        await asyncio.sleep(0.01)
        await hub.settle()
        assert len(render.calls) == 2 and len({id(s.pending["day:1"]) for s in subs}) == 1
        assert b"v1" in subs[0].pending["day:1"]
        clock.advance(hours=1)  # the new render holds until the data changes: nothing more
        await asyncio.sleep(0.01)
        assert len(render.calls) == 2
    finally:
        hub.close()
        await asyncio.wait_for(expiring, 1)


async def test_a_render_refreshed_by_a_change_is_not_expired_again():
    render, clock = Counter(), ManualClock(T0)
    hub = Hub(render, clock=clock)
    hub.subscribe(["day:1"], "en")
    render.valid_until = T0 + timedelta(minutes=5)
    await hub.current("day:1", "en")
    render.valid_until = T0 + timedelta(minutes=30)
    hub.notify("day:1")  # a booking: rendered afresh, holding until later
    await hub.settle()
    expiring = asyncio.create_task(hub.expire())
    try:
        clock.advance(minutes=6)
        await asyncio.sleep(0.01)
        await hub.settle()
        assert len(render.calls) == 2
    finally:
        hub.close()
        await asyncio.wait_for(expiring, 1)


async def test_a_render_the_clock_overtakes_while_it_is_made_is_made_again():
    clock = ManualClock(T0)

    class SlowAtMidnight(Counter):
        async def __call__(self, topic, locale, version, at=None):
            render = await super().__call__(topic, locale, version, at)
            if len(self.calls) == 1:
                clock.set(T0 + timedelta(minutes=13))  # the moment passes while the first render is being made
            return render

    render = SlowAtMidnight()
    render.valid_until = T0 + timedelta(minutes=12)
    hub = Hub(render, clock=clock)
    sub = hub.subscribe(["day:1"], "en")
    expiring = asyncio.create_task(hub.expire())
    try:
        await hub.current("day:1", "en")
        render.state, render.valid_until = 1, None
        for _ in range(50):
            await asyncio.sleep(0.01)
            if "day:1" in sub.pending:
                break
        assert b"v1" in sub.pending["day:1"] and len(render.calls) == 2
    finally:
        hub.close()
        await asyncio.wait_for(expiring, 1)


async def test_a_change_that_renders_the_same_bytes_sends_nothing():
    """A change elsewhere (another day of the resource) leaves this page's render as it was: no bytes go out."""

    async def render(topic, locale, version, at=None):
        return Render(f"event: strip\ndata: {topic} {state}\n\n".encode())

    hub, state = Hub(render), "a"
    sub = hub.subscribe(["days:1"], "en")
    await hub.first("days:1", "en")
    hub.notify("days:1")
    await hub.settle()
    assert sub.pending == {}
    state = "b"
    hub.notify("days:1")
    await hub.settle()
    assert sub.pending["days:1"].endswith(b"days:1 b\n\n")


async def test_streams_holding_different_renders_all_get_the_next_one():
    """A newcomer's render differs from the others' (the clock moved it on): the next change goes to everyone,
    even when it renders as the newcomer's did; a change made before a newcomer's own render is sent too."""

    async def render(topic, locale, version, at=None):
        return Render(f"event: x\ndata: {state}\n\n".encode())

    hub, state = Hub(render), "a"
    early = hub.subscribe(["t"], "en")
    await hub.first("t", "en")
    state = "b"
    hub._renders.clear()  # as if a's render had expired
    late = hub.subscribe(["t"], "en")
    assert (await hub.first("t", "en")).endswith(b"b\n\n")
    hub.notify("t")
    await hub.settle()
    assert early.pending["t"].endswith(b"b\n\n") and late.pending["t"].endswith(b"b\n\n")

    hub.notify("t")  # rendered for a newcomer before the change is sent out: it still goes to the others
    state = "c"
    newcomer = hub.subscribe(["t"], "en")
    await hub.first("t", "en")
    await hub.settle()
    assert early.pending["t"].endswith(b"c\n\n") and newcomer.pending["t"].endswith(b"c\n\n")


async def settled(hub, clock, **moved):
    clock.advance(**moved)
    for _ in range(5):
        await asyncio.sleep(0.005)
    await hub.settle()


async def test_a_render_the_clock_will_expire_is_made_ahead_and_sent_at_its_moment():
    render, clock = Counter(), ManualClock(T0)
    hub = Hub(render, clock=clock)
    release = T0 + timedelta(minutes=5)
    render.valid_until = release  # e.g. a day that opens at 08:00
    subs = [hub.subscribe(["day:1"], locale) for locale in ("en", "zh_CN")]
    for sub in subs:
        await hub.first("day:1", sub.locale)
    expiring = asyncio.create_task(hub.expire())
    try:
        render.state, render.valid_until = 1, None
        await settled(hub, clock, minutes=4, seconds=59, milliseconds=500)  # half a second before
        assert render.moments == [None, None, release, release]  # made now, as it will be then: once per locale
        assert all(not s.pending for s in subs)  # and not sent before its moment
        await settled(hub, clock, milliseconds=500)
        assert [b"v1" in s.pending["day:1"] for s in subs] == [True, True] and len(render.calls) == 4
    finally:
        hub.close()
        await asyncio.wait_for(expiring, 1)


async def test_a_change_before_the_moment_wins_over_the_render_made_ahead():
    render, clock = Counter(), ManualClock(T0)
    hub = Hub(render, clock=clock)
    release = T0 + timedelta(minutes=5)
    render.valid_until = release
    sub = hub.subscribe(["day:1"], "en")
    await hub.first("day:1", "en")
    expiring = asyncio.create_task(hub.expire())
    try:
        render.state = 1
        await settled(hub, clock, minutes=4, seconds=59, milliseconds=500)
        render.state = 2
        hub.notify("day:1")  # a booking by staff, say: rendered now, and it still expires at the release
        await hub.settle()
        assert b"v2" in drain(sub)
        render.state, render.valid_until = 3, None
        await settled(hub, clock, milliseconds=500)
        assert b"v3" in drain(sub) and render.moments[-1] is None  # rendered at the moment, not the stale v1
    finally:
        hub.close()
        await asyncio.wait_for(expiring, 1)
