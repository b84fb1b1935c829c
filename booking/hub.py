"""Change notices -> topics -> subscribers: render once per topic and locale, fan out bytes."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from .clock import SystemClock

log = logging.getLogger(__name__)


class Message(bytes):
    """A message as plain streams send it, with `packed`: the same message as packed streams send it (e.g. a deflate
    segment), made once by the renderer for every such stream."""

    packed: bytes = b""


class Render(NamedTuple):
    """A topic's message as it goes out, and until when it holds (None: until the data changes)."""

    message: Message
    valid_until: datetime | None = None


Renderer = Callable[[str, str, int, datetime | None], Awaitable[Render]]  # (topic, locale, version, as at) -> Render
AHEAD = timedelta(seconds=1)  # a render the clock will change is made this long before, and sent at its moment


class Subscriber:
    """One open stream: holds at most the latest message per topic. A `packed` stream sends each message's
    `packed` form instead (the renderer made it once for every such stream, e.g. a deflate segment)."""

    # An idle stream is mostly this object and what it waits on: a bare future while it waits (an asyncio.Event
    # would add itself and a deque of 760 bytes per stream).
    __slots__ = ("topics", "locale", "packed", "pending", "waiter", "closed")

    def __init__(self, topics: tuple[str, ...], locale: str, packed: bool = False):
        self.topics = topics
        self.locale = locale
        self.packed = packed
        self.pending: dict[str, bytes] = {}
        self.waiter: asyncio.Future | None = None
        self.closed = False

    def offer(self, topic: str, message: Message) -> None:
        """Queue `message`, replacing an unsent older one of the same topic."""
        self.pending[topic] = message
        self._wake()

    def end(self) -> None:
        """Its client has left: `messages` ends now, sending nothing more."""
        self.closed = True
        self.pending.clear()
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def messages(self) -> AsyncIterator[bytes]:
        """Everything pending, one chunk per wake-up, until the hub closes the stream (or `end`)."""
        while not self.closed or self.pending:
            if not self.pending:
                self.waiter = asyncio.get_running_loop().create_future()
                try:
                    await self.waiter
                finally:
                    self.waiter = None
                continue
            pending = [m.packed for m in self.pending.values()] if self.packed else list(self.pending.values())
            self.pending.clear()
            # One message (the usual case) goes out as the very object every subscriber shares: no copy per stream.
            yield pending[0] if len(pending) == 1 else b"".join(pending)


class Hub:
    """Topics, versions and subscribers; how a topic looks (and its bytes on the wire) is the renderer's business.

    A topic is re-rendered when its data changes (`notify`) and when its render expires: a render may depend on
    the clock ("Past", the notice cut-off, a kiosk's now/next, a release), so it says until when it holds. The
    hub renders the topic as it will be at that moment AHEAD of it, once for all its subscribers, and sends it at
    the moment: at a release the pages turn bookable on time, whatever crowd arrives with it.
    """

    def __init__(
        self,
        render: Renderer,
        *,
        clock=None,
        heartbeat: float = 15.0,
        ping: Message = Message(),
        farewell: Message = Message(),
        on_broadcast: Callable[[float], object] = lambda seconds: None,
    ):
        self._render = render
        self._on_broadcast = on_broadcast  # hears how long each change took to render and hand over
        self._clock = clock or SystemClock()
        self._heartbeat = heartbeat
        self._ping, self._farewell = ping, farewell
        self._subscribers: dict[str, dict[str, set[Subscriber]]] = {}  # topic -> locale -> streams
        self._versions: dict[str, int] = {}
        self._renders: dict[tuple[str, str], tuple[int, asyncio.Future]] = {}  # latest render per topic+locale
        self._held: dict[tuple[str, str], bytes] = {}  # what every stream of a topic+locale holds, when known
        self._expiries: list[tuple[datetime, str]] = []  # heap of (when a render expires, topic)
        self._timer = asyncio.Event()  # wakes the expiry loop when an earlier expiry arrives
        self._dirty: set[str] = set()
        self._refreshing: dict[str, asyncio.Task] = {}
        self._preparing: dict[str, asyncio.Task] = {}  # topics being rendered ahead of their render's expiry
        self.renders = 0  # how many fragments were rendered, for tests and benchmarks
        self._closing = asyncio.Event()

    # -- subscribers

    def subscribe(self, topics: Iterable[str], locale: str, packed: bool = False) -> Subscriber:
        """A new stream on these topics (call it inside the streaming generator)."""
        sub = Subscriber(tuple(topics), locale, packed)
        for topic in sub.topics:
            self._subscribers.setdefault(topic, {}).setdefault(locale, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a stream; drop what was kept for topics nobody watches any more."""
        for topic in sub.topics:
            by_locale = self._subscribers.get(topic, {})
            streams = by_locale.get(sub.locale)
            if streams is not None:
                streams.discard(sub)
                if not streams:
                    del by_locale[sub.locale]
                    self._renders.pop((topic, sub.locale), None)
                    self._held.pop((topic, sub.locale), None)
            if not by_locale:
                self._subscribers.pop(topic, None)
                self._versions.pop(topic, None)

    def count(self, topic: str | None = None) -> int:
        """Open streams on a topic, or on all topics."""
        topics = [topic] if topic else list(self._subscribers)
        return sum(len(s) for t in topics for s in self._subscribers.get(t, {}).values())

    # -- rendering

    async def current(self, topic: str, locale: str) -> bytes:
        """The topic's message as of now: rendered at most once per version and locale, and never expired."""
        version = self._versions.get(topic, 0)
        key = (topic, locale)
        kept = self._renders.get(key)
        if kept is None or kept[0] != version or self._expired(kept[1]):
            kept = (version, asyncio.ensure_future(self._render_once(topic, locale, version)))
            self._renders[key] = kept
        try:
            return (await asyncio.shield(kept[1])).message
        except Exception:
            if self._renders.get(key) is kept:
                del self._renders[key]  # let the next caller try again
            raise

    async def first(self, topic: str, locale: str) -> bytes:
        """The message a new stream starts with (call it after subscribing). If it differs from what the other
        streams hold (a render the clock overtook, say), what they hold is no longer one thing: the next change is
        sent whatever it renders."""
        message = await self.current(topic, locale)
        key = (topic, locale)
        if len(self._subscribers.get(topic, {}).get(locale, ())) <= 1:
            self._held[key] = message
        elif self._held.get(key) != message:
            self._held.pop(key, None)
        return message

    def _expired(self, render: asyncio.Future, at: datetime | None = None) -> bool:
        """Whether a render no longer holds (now, or at `at`)."""
        if not render.done() or render.cancelled() or render.exception():
            return False
        until = render.result().valid_until
        return until is not None and until <= (at or self._clock.now())

    async def _render_once(self, topic: str, locale: str, version: int, at: datetime | None = None) -> Render:
        self.renders += 1
        began = at or self._clock.now()
        render = await self._render(topic, locale, version, at)
        # Expired before it began: the context is wrong, and re-rendering would spin. (Expired while it was being
        # made, e.g. at midnight, is fine: its expiry is due at once and the topic is rendered again.)
        if render.valid_until is not None and render.valid_until <= began:
            log.warning("a render of %s expired before it was made; kept until the data changes", topic)
            render = render._replace(valid_until=None)
        if render.valid_until is not None:
            if not self._expiries or render.valid_until < self._expiries[0][0]:
                self._timer.set()
            heapq.heappush(self._expiries, (render.valid_until, topic))
        return render

    def notify(self, *topics: str) -> None:
        """Topics changed (after commit): re-render each once and send it to its subscribers.

        A name ending in ':' is a family: every watched topic that starts with it changed.
        """
        for topic in [w for t in topics for w in (self._family(t) if t.endswith(":") else [t])]:
            if topic not in self._subscribers:
                continue  # nobody watches: nothing to render, nothing to remember
            self._versions[topic] = self._versions.get(topic, 0) + 1
            self._dirty.add(topic)
            if topic not in self._refreshing:
                self._refreshing[topic] = asyncio.create_task(self._refresh(topic))

    def resync(self) -> None:
        """Re-send every watched topic (after changes may have been missed, e.g. a lost listener)."""
        self.notify(*list(self._subscribers))

    def _family(self, prefix: str) -> list[str]:
        return [t for t in self._subscribers if t.startswith(prefix)]

    async def _refresh(self, topic: str) -> None:
        """Render and fan out until no newer change is waiting (bursts coalesce)."""
        try:
            while topic in self._dirty:
                self._dirty.discard(topic)
                began = time.perf_counter()
                for locale in list(self._subscribers.get(topic, {})):
                    try:
                        message = await self.current(topic, locale)
                    except Exception:
                        log.exception("rendering %s (%s) failed", topic, locale)
                        continue
                    if message == self._held.get((topic, locale)):
                        continue  # the bytes every stream of it holds already: nothing to send
                    for sub in list(self._subscribers.get(topic, {}).get(locale, ())):
                        sub.offer(topic, message)
                    self._held[topic, locale] = message
                self._on_broadcast(time.perf_counter() - began)
        finally:
            del self._refreshing[topic]

    async def settle(self) -> None:
        """Wait until every change notified so far has been sent out."""
        while self._refreshing:
            await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def expire(self) -> None:
        """Until the hub closes: render each watched topic again when its render expires (one timer for all),
        made AHEAD of the moment (see _prepare)."""
        while not self.closing:
            self._timer.clear()
            await self._clock.wait(self._timer, self._expiries[0][0] - AHEAD if self._expiries else None)
            now, due = self._clock.now(), {}
            while self._expiries and self._expiries[0][0] <= now + AHEAD:
                when, topic = heapq.heappop(self._expiries)
                due[topic] = min(when, due.get(topic, when))
            # Only topics whose kept render expires then: a change since may have rendered them afresh.
            for topic, when in due.items():
                if not self._expiring(topic, when):
                    continue
                if when <= now:
                    self.notify(topic)
                elif topic not in self._preparing:
                    self._preparing[topic] = asyncio.create_task(self._prepare(topic, when))

    def _expiring(self, topic: str, at: datetime) -> bool:
        """Whether a render kept for the topic (in any locale) no longer holds at `at`."""
        return any(
            self._expired(self._renders[topic, locale][1], at)
            for locale in self._subscribers.get(topic, {})
            if (topic, locale) in self._renders
        )

    async def _prepare(self, topic: str, when: datetime) -> None:
        """Render the topic as it will be at `when`, now; at `when` send that as its next version. A change
        before then wins (its own render goes out, and expires in its turn)."""
        version = self._versions.get(topic, 0)
        try:
            renders = {}
            for locale in list(self._subscribers.get(topic, {})):
                try:
                    renders[locale] = await self._render_once(topic, locale, version + 1, at=when)
                except Exception:
                    log.exception("rendering %s (%s) ahead failed", topic, locale)
            moved = asyncio.Event()  # a ManualClock sets it when moved
            while self._clock.now() < when and not self.closing:
                moved.clear()
                await self._clock.wait(moved, when)
            if self.closing or topic not in self._subscribers:
                return
            if self._versions.get(topic, 0) != version:  # a change came first: its render holds, or expires now
                if self._expiring(topic, when):
                    self.notify(topic)
                return
            watched = self._subscribers[topic]
            for locale, render in renders.items():
                if locale in watched:
                    ready = asyncio.get_running_loop().create_future()
                    ready.set_result(render)
                    self._renders[topic, locale] = (version + 1, ready)
            self.notify(topic)  # version + 1: sent as any change is, the prepared renders as its renders
        finally:
            del self._preparing[topic]

    # -- liveness and shutdown

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    async def closed(self) -> None:
        """Return once the hub closes."""
        await self._closing.wait()

    async def running_after(self, seconds: float) -> bool:
        """Sleep; False as soon as the hub closes (background loops stop with it)."""
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
        except TimeoutError:
            return True
        return False

    async def beat(self) -> None:
        """Send the heartbeat to every stream until the hub closes (one timer for all)."""
        while await self.running_after(self._heartbeat):
            for sub in self._all():
                sub.offer("", self._ping)

    def close(self) -> None:
        """End every stream with the farewell message (server shutdown)."""
        self._closing.set()
        self._timer.set()
        for sub in self._all():
            sub.closed = True
            sub.offer("", self._farewell)

    def _all(self) -> set[Subscriber]:
        return {s for by_locale in self._subscribers.values() for streams in by_locale.values() for s in streams}
