"""Change notices -> topics -> subscribers: render once per topic and locale, fan out bytes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

log = logging.getLogger(__name__)

Renderer = Callable[[str, str], Awaitable[tuple[str, str]]]  # (topic, locale) -> (event name, html)

PING = b": ping\n\n"
CLOSE_EVENT = "close"


def encode(event: str, data: str, id: int | None = None) -> bytes:
    """One SSE message: `id`, `event`, and one `data:` line per line of `data`."""
    head = f"id: {id}\nevent: {event}\n" if id is not None else f"event: {event}\n"
    lines = "".join(f"data: {line}\n" for line in data.splitlines() or [""])
    return (head + lines + "\n").encode()


def retry(milliseconds: int) -> bytes:
    """The SSE field that sets the browser's reconnect delay."""
    return f"retry: {milliseconds}\n\n".encode()


class Subscriber:
    """One open stream: holds at most the latest message per topic."""

    __slots__ = ("topics", "locale", "pending", "wake", "closed")

    def __init__(self, topics: tuple[str, ...], locale: str):
        self.topics = topics
        self.locale = locale
        self.pending: dict[str, bytes] = {}
        self.wake = asyncio.Event()
        self.closed = False

    def offer(self, topic: str, message: bytes) -> None:
        """Queue `message`, replacing an unsent older one of the same topic."""
        self.pending[topic] = message
        self.wake.set()

    async def messages(self) -> AsyncIterator[bytes]:
        """Everything pending, one chunk per wake-up, until the hub closes the stream."""
        while not self.closed or self.pending:
            await self.wake.wait()
            self.wake.clear()
            chunk = b"".join(self.pending.values())
            self.pending.clear()
            yield chunk


class Hub:
    """Topics, versions and subscribers; how a topic looks is the renderer's business."""

    def __init__(self, render: Renderer, heartbeat: float = 15.0):
        self._render = render
        self._heartbeat = heartbeat
        self._subscribers: dict[str, dict[str, set[Subscriber]]] = {}  # topic -> locale -> streams
        self._versions: dict[str, int] = {}
        self._renders: dict[tuple[str, str], tuple[int, asyncio.Future]] = {}  # latest render per topic+locale
        self._dirty: set[str] = set()
        self._refreshing: dict[str, asyncio.Task] = {}
        self.renders = 0  # how many fragments were rendered, for tests and benchmarks
        self._closing = asyncio.Event()

    # -- subscribers

    def subscribe(self, topics: Iterable[str], locale: str) -> Subscriber:
        """A new stream on these topics (call it inside the streaming generator)."""
        sub = Subscriber(tuple(topics), locale)
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
            if not by_locale:
                self._subscribers.pop(topic, None)
                self._versions.pop(topic, None)

    def count(self, topic: str | None = None) -> int:
        """Open streams on a topic, or on all topics."""
        topics = [topic] if topic else list(self._subscribers)
        return sum(len(s) for t in topics for s in self._subscribers.get(t, {}).values())

    # -- rendering

    async def current(self, topic: str, locale: str) -> bytes:
        """The topic's message as of now, rendered at most once per version and locale."""
        version = self._versions.get(topic, 0)
        key = (topic, locale)
        kept = self._renders.get(key)
        if kept is None or kept[0] != version:
            kept = (version, asyncio.ensure_future(self._encode(topic, locale, version)))
            self._renders[key] = kept
        try:
            return await asyncio.shield(kept[1])
        except Exception:
            if self._renders.get(key) is kept:
                del self._renders[key]  # let the next caller try again
            raise

    async def _encode(self, topic: str, locale: str, version: int) -> bytes:
        self.renders += 1
        event, html = await self._render(topic, locale)
        return encode(event, html.strip(), version)

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
                for locale in list(self._subscribers.get(topic, {})):
                    try:
                        message = await self.current(topic, locale)
                    except Exception:
                        log.exception("rendering %s (%s) failed", topic, locale)
                        continue
                    for sub in list(self._subscribers.get(topic, {}).get(locale, ())):
                        sub.offer(topic, message)
        finally:
            del self._refreshing[topic]

    async def settle(self) -> None:
        """Wait until every change notified so far has been sent out."""
        while self._refreshing:
            await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

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
        """Send a heartbeat comment to every stream until the hub closes (one timer for all)."""
        while await self.running_after(self._heartbeat):
            for sub in self._all():
                sub.offer("", PING)

    def close(self) -> None:
        """End every stream with a named close event (server shutdown)."""
        self._closing.set()
        message = encode(CLOSE_EVENT, "")
        for sub in self._all():
            sub.closed = True
            sub.offer("", message)

    def _all(self) -> set[Subscriber]:
        return {s for by_locale in self._subscribers.values() for streams in by_locale.values() for s in streams}
