"""What a database's faults mean to the domain: unavailable for a while (nothing was saved, try again), or a change
whose commit is unknown; and how long PostgreSQL lets a request wait. The engines raise these from their drivers'
errors."""

from __future__ import annotations

from typing import NamedTuple

DOWN, FULL, BUSY = "down", "full", "busy"  # cannot be reached or is restarting; has no room; busy past the waits
RETRY_AFTER = {DOWN: 5, FULL: 60, BUSY: 2}  # seconds a client is asked to wait before trying again


class Unavailable(Exception):
    """The database cannot do this now (`reason`: DOWN, FULL or BUSY); nothing was saved: try again later."""

    code = "unavailable"

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason

    @property
    def retry_after(self) -> int:
        return RETRY_AFTER[self.reason]

    @classmethod
    def of(cls, reason: str, error: BaseException) -> Unavailable:
        """This outage, caused by a driver's `error` (chain it with `raise … from error`)."""
        return cls(reason, f"{type(error).__name__}: {error}"[:300])


class CommitUnknown(Unavailable):
    """The connection broke once the commit was sent: the change may have been saved, or not."""

    code = "outcome_unknown"


class Waits(NamedTuple):
    """PostgreSQL's bounds, in seconds: on another session's lock, on one statement, and on a session idle inside
    its transaction (a frozen worker's: the server ends it, and its locks go)."""

    lock: float = 2.0
    statement: float = 10.0
    idle_in_transaction: float = 5.0

    def server_settings(self) -> dict[str, str]:
        """The same, as a connection's PostgreSQL settings (milliseconds)."""
        return {
            "lock_timeout": f"{self.lock * 1000:.0f}",
            "statement_timeout": f"{self.statement * 1000:.0f}",
            "idle_in_transaction_session_timeout": f"{self.idle_in_transaction * 1000:.0f}",
        }
