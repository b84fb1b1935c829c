"""Change notices -> topics -> subscribers: render once per topic and locale, fan out bytes."""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import NamedTuple

from .clock import SystemClock

log = logging.getLogger(__name__)


class Render(NamedTuple):
    """A topic's message as it goes out, and until when it holds (None: until the data changes)."""

    message: bytes
    valid_until: datetime | None = None


Renderer = Callable[[str, str, int], Awaitable[Render]]  # (topic, locale, version) -> Render


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

    def offer(self, topic: str, message: bytes) -> None:
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
    the clock ("Past", the notice cut-off, a kiosk's now/next), so it says until when it holds, and at that
    moment the hub renders the topic again, once for all its subscribers.
    """

    def __init__(self, render: Renderer, *, clock=None, heartbeat: float = 15.0, ping: bytes = b"",
                 farewell: bytes = b"", on_broadcast: Callable[[float], object] = lambda seconds: None):
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

    def _expired(self, render: asyncio.Future) -> bool:
        if not render.done() or render.cancelled() or render.exception():
            return False
        until = render.result().valid_until
        return until is not None and until <= self._clock.now()

    async def _render_once(self, topic: str, locale: str, version: int) -> Render:
        self.renders += 1
        began = self._clock.now()
        render = await self._render(topic, locale, version)
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
        """Until the hub closes: re-render each watched topic when its render expires (one timer for all)."""
        while not self.closing:
            self._timer.clear()
            await self._clock.wait(self._timer, self._expiries[0][0] if self._expiries else None)
            now, due = self._clock.now(), set()
            while self._expiries and self._expiries[0][0] <= now:
                due.add(heapq.heappop(self._expiries)[1])
            # Only topics whose kept render has expired: a change since may have rendered them afresh.
            self.notify(*(t for t in due if any(self._expired(self._renders[t, locale][1])
                                                for locale in self._subscribers.get(t, {})
                                                if (t, locale) in self._renders)))

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
