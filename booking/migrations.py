"""Versioned schema migrations, one list for every engine.

A step is SQL, where `{id}`, `{ts}` and `{date}` stand for the engine's identity key, UTC timestamp and date
types, or an async function of the transaction that moves data. Append new steps; never edit a step that has
shipped.
"""

import json

from .contacts import country_of_zone


async def people_compared_anew(tx) -> None:
    """Each venue's country guessed from its time zone (staff may change it); the outbox's waitlist offers tied to
    their entries; person_days counted anew: phones as E.164, e-mail addresses normalised, and waiting or offered
    entries counted with the bookings."""
    # booking.sql imports this module: its code is there by the time a step runs
    from .sql.people import _recount

    for venue in await tx.fetch("SELECT id, timezone FROM venues WHERE country = ''"):
        await tx.execute(
            "UPDATE venues SET country = :country WHERE id = :id",
            country=country_of_zone(venue["timezone"]),
            id=venue["id"],
        )
    for message in await tx.fetch("SELECT id, body FROM outbox WHERE event = 'waitlist.offered'"):
        reference = json.loads(message["body"])["data"]["reference"]
        await tx.execute(
            "UPDATE outbox SET waitlist_id = (SELECT id FROM waitlist WHERE reference = :reference) WHERE id = :id",
            reference=reference,
            id=message["id"],
        )
    await _recount(tx, "TRUE", {})


async def texts_and_offer_languages(tx) -> None:
    """The outbox takes text messages (kind 'sms'), and a waitlist entry keeps the language it was made in (its
    offer speaks it). SQLite cannot change a CHECK: the table is made anew from its own text (whatever columns
    it has by now), its rows and indexes with it."""
    await tx.execute("ALTER TABLE waitlist ADD COLUMN locale TEXT NOT NULL DEFAULT 'en'")
    kinds, texts = "('webhook', 'email')", "('webhook', 'email', 'sms')"
    if tx.types["ts"] != "TEXT":  # PostgreSQL names a column's CHECK table_column_check
        await tx.execute("ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check")
        await tx.execute(f"ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN {texts})")
        return
    table = await tx.fetch_value("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'outbox'")
    indexes = await tx.fetch(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'outbox' AND sql IS NOT NULL"
    )
    await tx.execute(table.replace(kinds, texts).replace("CREATE TABLE outbox", "CREATE TABLE outbox_new", 1))
    await tx.execute("INSERT INTO outbox_new SELECT * FROM outbox")
    await tx.execute("DROP TABLE outbox")
    await tx.execute("ALTER TABLE outbox_new RENAME TO outbox")
    for index in indexes:
        await tx.execute(index["sql"])


MIGRATIONS = [
    # 1: venues, resources, weekly rules, slots, bookings
    """
    CREATE TABLE venues (
        id {id},
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        timezone TEXT NOT NULL
    );
    CREATE TABLE resources (
        id {id},
        venue_id INTEGER NOT NULL REFERENCES venues(id),
        slug TEXT NOT NULL,
        name TEXT NOT NULL,
        max_party INTEGER NOT NULL CHECK (max_party > 0),
        horizon_days INTEGER NOT NULL CHECK (horizon_days > 0),
        min_notice_minutes INTEGER NOT NULL DEFAULT 0,
        generated_through {date},
        UNIQUE (venue_id, slug)
    );
    CREATE TABLE opening_rules (
        id {id},
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
        opens TEXT NOT NULL,
        closes TEXT NOT NULL,
        slot_minutes INTEGER NOT NULL CHECK (slot_minutes > 0),
        capacity INTEGER NOT NULL CHECK (capacity >= 0)
    );
    CREATE TABLE slots (
        id {id},
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        starts_at {ts} NOT NULL,
        ends_at {ts} NOT NULL,
        local_date {date} NOT NULL,
        capacity INTEGER NOT NULL,
        booked INTEGER NOT NULL DEFAULT 0,
        closed BOOLEAN NOT NULL DEFAULT FALSE,
        UNIQUE (resource_id, starts_at),
        CHECK (booked BETWEEN 0 AND capacity)
    );
    CREATE INDEX slots_by_day ON slots (resource_id, local_date);
    CREATE TABLE bookings (
        id {id},
        reference TEXT NOT NULL UNIQUE,
        cancel_token TEXT NOT NULL,
        slot_id INTEGER NOT NULL REFERENCES slots(id),
        name TEXT NOT NULL,
        contact TEXT NOT NULL,
        party_size INTEGER NOT NULL CHECK (party_size > 0),
        status TEXT NOT NULL CHECK (status IN ('confirmed', 'cancelled')),
        idempotency_key TEXT UNIQUE,
        created_at {ts} NOT NULL,
        cancelled_at {ts}
    );
    CREATE INDEX bookings_by_slot ON bookings (slot_id);
    """,
    # 2: staff, archiving, day exceptions, queue tickets and calls, attendance
    """
    CREATE TABLE staff (
        id {id},
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL
    );
    ALTER TABLE venues ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE resources ADD COLUMN archived BOOLEAN NOT NULL DEFAULT FALSE;
    CREATE TABLE day_exceptions (
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        local_date {date} NOT NULL,
        opens TEXT,
        closes TEXT,
        slot_minutes INTEGER CHECK (slot_minutes > 0),
        capacity INTEGER CHECK (capacity >= 0),
        PRIMARY KEY (resource_id, local_date)
    );
    CREATE TABLE ticket_counters (
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        local_date {date} NOT NULL,
        last INTEGER NOT NULL,
        PRIMARY KEY (resource_id, local_date)
    );
    ALTER TABLE bookings ADD COLUMN ticket INTEGER;
    ALTER TABLE bookings ADD COLUMN attendance TEXT CHECK (attendance IN ('checked_in', 'no_show'));
    ALTER TABLE bookings ADD COLUMN called_at {ts};
    ALTER TABLE bookings ADD COLUMN called_to TEXT;
    ALTER TABLE bookings ADD COLUMN requeued_at {ts};
    """,
    # 3: login limits every process sees, staff session versions, idempotency fingerprints
    """
    CREATE TABLE login_limits (
        key TEXT PRIMARY KEY,
        attempts INTEGER NOT NULL,
        window_start {ts} NOT NULL
    );
    ALTER TABLE staff ADD COLUMN session_version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE bookings ADD COLUMN request_fingerprint TEXT;
    """,
    # 4: release rules (放号), per-person limits
    """
    ALTER TABLE resources ADD COLUMN release_days_before INTEGER CHECK (release_days_before >= 0);
    ALTER TABLE resources ADD COLUMN release_time TEXT;
    ALTER TABLE venues ADD COLUMN per_person_limit INTEGER NOT NULL DEFAULT 0 CHECK (per_person_limit >= 0);
    CREATE TABLE person_days (
        contact_key TEXT NOT NULL,
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        local_date {date} NOT NULL,
        active INTEGER NOT NULL CHECK (active >= 0),
        PRIMARY KEY (contact_key, resource_id, local_date)
    );
    """,
    # 5: the waitlist (候补): places held for an offer
    """
    ALTER TABLE slots ADD COLUMN held INTEGER NOT NULL DEFAULT 0 CHECK (held >= 0);
    CREATE TABLE waitlist (
        id {id},
        reference TEXT NOT NULL UNIQUE,
        cancel_token TEXT NOT NULL,
        slot_id INTEGER NOT NULL REFERENCES slots(id),
        name TEXT NOT NULL,
        contact TEXT NOT NULL,
        party_size INTEGER NOT NULL CHECK (party_size > 0),
        status TEXT NOT NULL CHECK (status IN ('waiting', 'offered', 'booked', 'expired', 'left')),
        created_at {ts} NOT NULL,
        offered_until {ts},
        booking_id INTEGER REFERENCES bookings(id)
    );
    CREATE INDEX waitlist_by_slot ON waitlist (slot_id, status);
    """,
    # 6: the staff audit trail
    """
    CREATE TABLE audit_log (
        id {id},
        at {ts} NOT NULL,
        actor TEXT NOT NULL,
        address TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        venue_id INTEGER,
        local_date {date}
    );
    CREATE INDEX audit_by_time ON audit_log (at);
    """,
    # 7: where a venue is (address, phone), and names in Chinese
    """
    ALTER TABLE venues ADD COLUMN address TEXT NOT NULL DEFAULT '';
    ALTER TABLE venues ADD COLUMN phone TEXT NOT NULL DEFAULT '';
    ALTER TABLE venues ADD COLUMN name_zh TEXT NOT NULL DEFAULT '';
    ALTER TABLE resources ADD COLUMN name_zh TEXT NOT NULL DEFAULT '';
    """,
    # 8: the outbox (e-mail and webhooks written in the change's own transaction), webhook endpoints, and the
    # language a booking was made in (its e-mails speak it)
    """
    CREATE TABLE webhooks (
        id {id},
        venue_id INTEGER NOT NULL REFERENCES venues(id),
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        created_at {ts} NOT NULL,
        active BOOLEAN NOT NULL DEFAULT TRUE
    );
    CREATE TABLE outbox (
        id {id},
        kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email')),
        event TEXT NOT NULL,
        delivery TEXT NOT NULL UNIQUE,
        venue_id INTEGER NOT NULL REFERENCES venues(id),
        webhook_id INTEGER REFERENCES webhooks(id),
        booking_id INTEGER REFERENCES bookings(id),
        body TEXT NOT NULL,
        created_at {ts} NOT NULL,
        due_at {ts} NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
        done_at {ts},
        last_error TEXT
    );
    CREATE INDEX outbox_due ON outbox (due_at) WHERE state = 'pending';
    CREATE INDEX outbox_by_venue ON outbox (venue_id, id);
    ALTER TABLE bookings ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
    """,
    # 9: a booking's moves, so that a calendar takes each new time (SEQUENCE), and the time it last moved from
    """
    ALTER TABLE bookings ADD COLUMN moves INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE bookings ADD COLUMN moved_from {ts};
    """,
    # 10: staff roles per venue (every account so far is an owner: everything, every venue)
    """
    ALTER TABLE staff ADD COLUMN role TEXT NOT NULL DEFAULT 'owner' CHECK (role IN ('owner', 'manager', 'desk'));
    CREATE TABLE staff_venues (
        staff_id INTEGER NOT NULL REFERENCES staff(id),
        venue_id INTEGER NOT NULL REFERENCES venues(id),
        PRIMARY KEY (staff_id, venue_id)
    );
    """,
    # 11: the country a venue reads phone numbers in; outbox rows tied to the waitlist entry they tell of
    """
    ALTER TABLE venues ADD COLUMN country TEXT NOT NULL DEFAULT '';
    ALTER TABLE outbox ADD COLUMN waitlist_id INTEGER REFERENCES waitlist(id);
    CREATE INDEX outbox_by_booking ON outbox (booking_id);
    CREATE INDEX outbox_by_entry ON outbox (waitlist_id);
    """,
    # 12: see people_compared_anew
    people_compared_anew,
    # 13: release by draw (抽签): a resource's release mode, each day's draw (its seed committed as sha256 when
    # entries open), the entries (one standing entry per person: the partial unique index), and the waitlist entries
    # a draw made. Preferences name slots without a foreign key: a slot that leaves the schedule leaves them dangling.
    """
    ALTER TABLE resources ADD COLUMN release_mode TEXT NOT NULL DEFAULT 'race' CHECK (release_mode IN ('race', 'draw'));
    ALTER TABLE resources ADD COLUMN draw_entry_hours INTEGER NOT NULL DEFAULT 24 CHECK (draw_entry_hours > 0);
    CREATE TABLE draws (
        id {id},
        resource_id INTEGER NOT NULL REFERENCES resources(id),
        local_date {date} NOT NULL,
        seed TEXT NOT NULL,
        seed_sha256 TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'drawn')),
        numbered INTEGER NOT NULL DEFAULT 0,
        entered INTEGER NOT NULL DEFAULT 0 CHECK (entered >= 0),
        places INTEGER,
        booked INTEGER,
        waitlisted INTEGER,
        created_at {ts} NOT NULL,
        drawn_at {ts},
        UNIQUE (resource_id, local_date)
    );
    CREATE TABLE draw_entries (
        id {id},
        draw_id INTEGER NOT NULL REFERENCES draws(id),
        number INTEGER NOT NULL,
        reference TEXT NOT NULL UNIQUE,
        cancel_token TEXT NOT NULL,
        name TEXT NOT NULL,
        contact TEXT NOT NULL,
        contact_key TEXT NOT NULL,
        party_size INTEGER NOT NULL CHECK (party_size > 0),
        first_choice INTEGER NOT NULL,
        second_choice INTEGER,
        third_choice INTEGER,
        locale TEXT NOT NULL DEFAULT 'en',
        status TEXT NOT NULL DEFAULT 'entered'
            CHECK (status IN ('entered', 'withdrawn', 'booked', 'waitlisted', 'none')),
        rank INTEGER,
        drawn_slot INTEGER,
        booking_id INTEGER REFERENCES bookings(id),
        created_at {ts} NOT NULL,
        UNIQUE (draw_id, number)
    );
    CREATE UNIQUE INDEX draw_entries_one_per_person ON draw_entries (draw_id, contact_key) WHERE status != 'withdrawn';
    ALTER TABLE waitlist ADD COLUMN draw_entry_id INTEGER REFERENCES draw_entries(id);
    CREATE INDEX waitlist_by_draw_entry ON waitlist (draw_entry_id) WHERE draw_entry_id IS NOT NULL;
    """,
    # the audit trail keeps the booking and the slot an action was about (their ticket and name are read from them
    # when shown: an erased person leaves no trace in it) and a range's last day; two old action names made plain
    # (a closing could not be told from a reopening)
    """
    ALTER TABLE audit_log ADD COLUMN booking_id INTEGER;
    ALTER TABLE audit_log ADD COLUMN slot_id INTEGER;
    ALTER TABLE audit_log ADD COLUMN last_date {date};
    UPDATE audit_log SET action = 'close_or_reopen_slot' WHERE action = 'close_slot';
    UPDATE audit_log SET action = 'add_webhook' WHERE action = 'webhooks.add';
    UPDATE audit_log SET action = 'remove_webhook' WHERE action = 'webhooks.remove';
    CREATE INDEX audit_by_venue ON audit_log (venue_id, at);
    """,
    # staff accounts kept in the app: disabled ones, their last login and failures since, one-time password links
    # (only each token's sha256 kept)
    """
    ALTER TABLE staff ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
    ALTER TABLE staff ADD COLUMN last_login_at {ts};
    ALTER TABLE staff ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE password_links (
        token_sha256 TEXT PRIMARY KEY,
        staff_id INTEGER NOT NULL REFERENCES staff(id),
        expires_at {ts} NOT NULL
    );
    CREATE INDEX password_links_by_staff ON password_links (staff_id);
    """,
    # text messages in the outbox, and the language of a waitlist entry
    texts_and_offer_languages,
    # API keys: kept as the sha256 of the key (never the key), its first characters to tell it apart, its scopes
    # (space-separated), who made it, when it was last used (noted at most once a minute) and revoked; and its venues
    """
    CREATE TABLE api_keys (
        id {id},
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        key_sha256 TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at {ts} NOT NULL,
        last_used_at {ts},
        revoked_at {ts}
    );
    CREATE TABLE api_key_venues (
        key_id INTEGER NOT NULL REFERENCES api_keys(id),
        venue_id INTEGER NOT NULL REFERENCES venues(id),
        PRIMARY KEY (key_id, venue_id)
    );
    """,
    # webhooks an integrator can run: the events an endpoint takes (NULL: all), paused by staff or after a day of
    # failures, failing since, its secret before a rotation (signed with too until previous_until); each booking's
    # count of events told (the payload's sequence), and the pending deliveries per endpoint and booking or waitlist
    # entry (their order)
    """
    ALTER TABLE webhooks ADD COLUMN events TEXT;
    ALTER TABLE webhooks ADD COLUMN paused TEXT CHECK (paused IN ('staff', 'failing'));
    ALTER TABLE webhooks ADD COLUMN paused_at {ts};
    ALTER TABLE webhooks ADD COLUMN failing_since {ts};
    ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
    ALTER TABLE webhooks ADD COLUMN previous_until {ts};
    ALTER TABLE bookings ADD COLUMN told INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX outbox_in_order ON outbox (webhook_id, booking_id, id) WHERE state = 'pending';
    CREATE INDEX outbox_entry_in_order ON outbox (webhook_id, waitlist_id, id) WHERE state = 'pending';
    """,
]
