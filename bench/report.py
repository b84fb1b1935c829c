"""The bench's report: the machine it ran on, the Markdown tables and ratios of every scenario, the plot."""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from bench.scenarios.release import RELEASE_PROCESSES
from bench.workspace import APP_PYTHON, COMMANDS
from tests.support.postgres_server import PostgresServer


def fsync_ms(folder: str = "/tmp", rounds: int = 100) -> float:
    """How long one 4 KB write + fsync takes where the benchmark database lives."""
    fd, name = tempfile.mkstemp(dir=folder)
    try:
        began = time.perf_counter()
        for _ in range(rounds):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - began) / rounds * 1e3
    finally:
        os.close(fd)
        os.unlink(name)


def machine() -> list[str]:
    """The header's lines on the machine and the versions of every server."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    versions = subprocess.run(
        [
            APP_PYTHON,
            "-c",
            "import importlib.metadata as m, sys; print(sys.version.split()[0],"
            " *(m.version(p) for p in ('quart', 'hypercorn')))",
        ],
        capture_output=True,
        text=True,
    )
    py, quart, hypercorn = versions.stdout.split()
    return [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}: {os.cpu_count()} cores ({cpu}), "
        f"{os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB, Linux {platform.release()}; "
        f"load average at start {os.getloadavg()[0]:.2f} (other sessions' tests may share the 2 cores)",
        f"Slotcast: Python {py}, Quart {quart}, Hypercorn {hypercorn} (one process, SQLite); "
        f"Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}; "
        f"uvicorn {version('uvicorn')} + Starlette {version('starlette')} + sse-starlette "
        f"{version('sse-starlette')} (Python {platform.python_version()}, asyncio loop, h11); the minimal Quart "
        f"baseline on Slotcast's own Python, Quart and Hypercorn",
    ]


def table(rows: list[dict], columns: list[tuple[str, str, str]]) -> list[str]:
    """A Markdown table of `rows`; `columns`: (title, key, format of a float)."""
    lines = ["| " + " | ".join(title for title, _, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(
                format(row[key], fmt) if isinstance(row[key], float) else str(row[key]) for _, key, fmt in columns
            )
            + " |"
        )
    return lines


def plot(fan: list[dict], soak: dict | None, out: Path) -> None:
    """results.png: the fan-out's delays by N, and the soak's per change."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if soak else 1, figsize=(12 if soak else 6, 4.5), squeeze=False)
    ax = axes[0][0]
    for name, color in zip(dict.fromkeys(r["server"] for r in fan), ("C0", "C1", "C2", "C3", "C4", "C5")):
        rows = [r for r in fan if r["server"] == name]
        ns = [r["n"] for r in rows]
        ax.plot(ns, [r["p99_ms"] for r in rows], "o-", color=color, label=f"{name} p99")
        ax.plot(ns, [r["p50_ms"] for r in rows], "o--", color=color, alpha=0.5, label=f"{name} p50")
    ax.set(
        xlabel="open streams",
        ylabel="delay from the change request to receipt (ms)",
        title="Fan-out of one change",
        yscale="log",
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if soak:
        ax = axes[0][1]
        ax.plot(range(1, len(soak["per_change"]) + 1), [d * 1e3 for d in soak["per_change"]], ".-", label="last stream")
        ax.plot(
            range(1, len(soak["per_change"]) + 1),
            [d * 1e3 for d in soak["p99_per_change"]],
            ".-",
            label="p99",
            alpha=0.6,
        )
        ax.axhline(750, color="red", linestyle=":", label="750 ms target")
        ax.set(xlabel="booking (one a second)", ylabel="delay (ms)", title=f"Slotcast soak, {soak['n']:,} streams")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def postgres_line(pg: PostgresServer) -> str:
    """The header's line on the throwaway PostgreSQL of the scale-out rows."""
    return (
        f"PostgreSQL {pg.sql('SHOW server_version').split()[0]} (Debian's, initdb into a temp folder, "
        f"fsync on, started in {pg.started_in:.1f} s) for the scale-out rows: {os.cpu_count()} Slotcast "
        f"processes in the fan-out, {RELEASE_PROCESSES} in the release"
    )


FANOUT_COLUMNS = [
    ("server", "server", ""),
    ("N", "n", ""),
    ("open all (s)", "open_s", ".1f"),
    ("201 (ms)", "answer_ms", ".1f"),
    ("p50 (ms)", "p50_ms", ".1f"),
    ("p99 (ms)", "p99_ms", ".1f"),
    ("max (ms)", "max_ms", ".1f"),
    ("lost", "lost", ""),
    ("RSS/conn (KB)", "kb_per_conn", ".1f"),
    ("CPU/change (ms)", "cpu_ms", ".1f"),
    ("µs/subscriber", "us_per_sub", ".1f"),
    ("client CPU/change (ms)", "client_cpu_ms", ".1f"),
]


def write_report(results: dict, header: list[str], message_bytes: int, quick: bool, invocation: str) -> str:
    """The Markdown report: machine, tables, ratios, profile and the exact commands."""
    lines = [
        f"# Slotcast benchmark{' (quick)' if quick else ''}",
        "",
        *[f"- {h}" for h in header],
        f"- payload: Slotcast's day fragment for harbour-kitchen/terrace, {message_bytes} bytes per SSE event; "
        "the baselines push the same bytes",
        "",
    ]
    for key, section in SECTIONS:
        if results.get(key):
            lines += section(results)
    lines += ["## Commands", "", "```", invocation, *COMMANDS, "```", ""]
    return "\n".join(lines)


def fanout_section(results: dict) -> list[str]:
    """The fan-out's table, the ratios to the baselines and the scale-out's p99 per process."""
    fan = results["fanout"]
    lines = [
        "## Fan-out: one change to N open day pages",
        "",
        "Delays run from the change's request being sent to each stream's receipt of the complete event "
        '(Slotcast: a booking through the JSON API; baselines: POST /publish). "201" is the median time '
        "until the booker had its answer. Slotcast runs ten kiosk streams beside the N pages (today's panel: "
        "the bookings are tomorrow's, so they get no bytes). RSS/conn is the server's resident memory growth "
        "per open idle stream; CPU is the server's user+system time per change; client CPU the load workers' "
        "(on the same cores).",
        "",
        *table(fan, FANOUT_COLUMNS),
        "",
        "Ratios, baseline ÷ Slotcast (above 1: Slotcast is better):",
        "",
    ]
    for n in results["sizes"]:
        rows = {r["server"]: r for r in fan if r["n"] == n}
        for ours in (r for name, r in rows.items() if name.startswith("slotcast")):
            for other in (o for o in ("node", "uvicorn", "quart") if o in rows):
                theirs = rows[other]
                lines.append(
                    f"- N={n:,}, {ours['server']} vs {other}: p99 {theirs['p99_ms'] / ours['p99_ms']:.2f}×, "
                    f"CPU/change {theirs['cpu_ms'] / ours['cpu_ms']:.2f}×, "
                    f"RSS/conn {theirs['kb_per_conn'] / ours['kb_per_conn']:.2f}×"
                )
    lines += [
        "",
        "The scale-out rows: the streams are split evenly over the processes and every booking goes "
        "through the first, so the others learn of it from PostgreSQL (NOTIFY in the booking's transaction, "
        "one LISTEN connection per process) and render it themselves. RSS is the processes' sum; CPU "
        "includes PostgreSQL's. p99 per process (the booking's own, then the other):",
        "",
    ]
    lines += [
        f"- N={r['n']:,}: " + ", ".join(f"{p:.1f} ms" for p in r["p99_by_port_ms"])
        for r in fan
        if "PostgreSQL" in r["server"]
    ]
    lines.append("")
    return lines


def quart_section(results: dict) -> list[str]:
    """Slotcast against the smallest Quart SSE app."""
    mq = results["quart"]
    theirs = mq[-1]
    lines = [
        f"## Slotcast against the smallest Quart SSE app, {theirs['n']:,} pages",
        "",
        "The fan-out scenario at this N, back to back: Slotcast (one process, SQLite; with its ten kiosk "
        "streams) with the clients asking for gzip as browsers do (about 480 bytes a change), the same with "
        "identity (its whole day table), then bench/baselines/quart_sse.py: Quart + Hypercorn from "
        "Slotcast's own venv, one process, an asyncio.Queue and an async generator per stream, POST "
        "/publish putting one 100-byte message in every queue. The issue's target: the same-run ratio of "
        "the p99s at 3,000 pages ≤ 1.0.",
        "",
        *table(mq, FANOUT_COLUMNS),
        "",
    ]
    lines += [
        f"- {ours['server']} p99 ÷ minimal Quart p99: {ours['p99_ms'] / theirs['p99_ms']:.2f} "
        f"({'meets' if ours['p99_ms'] <= theirs['p99_ms'] else 'misses'} ≤ 1.0); p50 "
        f"{ours['p50_ms'] / theirs['p50_ms']:.2f}; CPU/change {ours['cpu_ms'] / theirs['cpu_ms']:.2f}; "
        f"RSS/conn {ours['kb_per_conn'] / theirs['kb_per_conn']:.2f} (below 1: Slotcast is better)"
        for ours in mq[:-1]
    ]
    lines.append("")
    return lines


def soak_section(results: dict) -> list[str]:
    """The soak's slowest change and p99."""
    soak = results["soak"]
    lines = [
        f"## Soak: {soak['n']:,} streams, one booking a second for {soak['seconds']} s",
        "",
        f"- slowest change (request to the last stream): {max(soak['per_change']) * 1e3:.0f} ms; "
        f"p99 over all deliveries {soak['p99_ms']:.0f} ms; "
        f"changes slower than 750 ms: {sum(d > 0.75 for d in soak['per_change'])}; lost {soak['lost']}",
        "",
    ]
    return lines


def polling_section(results: dict) -> list[str]:
    """Polling versus push."""
    pvp = results["polling"]
    lines = [
        "## Polling versus push, 1,000 pages",
        "",
        "Polling pages GET the day's JSON slots (`/api/v1/.../slots?date=`, the cheapest server path to the "
        "day's state) every 5 s on keep-alive connections; push pages hold the day stream open. Staleness: "
        "from a booking's request to the page holding it. Bytes: as received by the clients.",
        "",
        *table(
            pvp,
            [
                ("mode", "mode", ""),
                ("server CPU (s/min)", "cpu_s_per_min", ".2f"),
                ("sent (MB/min)", "mb_per_min", ".2f"),
                ("staleness p50 (ms)", "stale_p50_ms", ".0f"),
                ("staleness p99 (ms)", "stale_p99_ms", ".0f"),
                ("not shown by the end", "unseen", ""),
                ("keep-alive reopened", "errors", ""),
            ],
        ),
        "",
        f"- server CPU, polling ÷ push at one booking per 10 s: "
        f"{pvp[0]['cpu_s_per_min'] / pvp[2]['cpu_s_per_min']:.1f}×",
        "",
    ]
    return lines


def burst_section(results: dict) -> list[str]:
    """The bursts, on disk and on tmpfs."""
    lines = ["## Burst (bookings through the JSON API, one connection each, the client in the same 2 cores)", ""]
    for key, where in (("burst", f"SQLite file on disk (fsync {fsync_ms():.1f} ms)"), ("burst_tmpfs", "on tmpfs")):
        if b := results.get(key):
            lines += [
                f"- {where}: {b['bookers']:,} concurrent bookers on one slot of 100 places: {b['confirmed']} "
                f"confirmed (201), {b['full']} slot_full (409), slot.booked = {b['booked']}; "
                f"response p50 {b['p50_ms']:.0f} ms, p99 {b['p99_ms']:.0f} ms. 50 concurrent bookers over "
                f"{b['slots']:,} slots: {b['per_second']:.0f} bookings/s "
                f"(p50 {b['many_p50_ms']:.1f} ms, p99 {b['many_p99_ms']:.1f} ms)"
            ]
    lines.append("")
    return lines


def wire_section(results: dict) -> list[str]:
    """Bytes on the wire, identity against gzip."""
    w = results["wire"]
    plain, packed = w["identity"], w["gzip"]
    lines = [
        f"## Bytes on the wire: the terrace's day page, {w['changes']} bookings one after another",
        "",
        "One server, two streams on the same day page, one asking for gzip; sizes as read from the socket "
        "(chunked framing included). A gzip stream is a gzip header, then each message as a deflate "
        "segment compressed once for every such stream.",
        "",
        "| | identity | gzip | ratio |",
        "|---|---|---|---|",
        f"| first message (the state: table + date strip) | {plain['first']:,} B | {packed['first']:,} B | "
        f"{plain['first'] / packed['first']:.1f}× |",
        f"| per change, mean | {plain['per_change']:,.0f} B | {packed['per_change']:,.0f} B | "
        f"{plain['per_change'] / packed['per_change']:.1f}× |",
        f"| per change, largest | {plain['largest']:,} B | {packed['largest']:,} B | |",
        *(f"| {path} | {a:,} B | {b:,} B | {a / b:.1f}× |" for path, (a, b) in w["files"].items()),
        "",
    ]
    return lines


def release_section(results: dict) -> list[str]:
    """The release's two tables and a line per set-up."""
    rows = results["release"]
    r = rows[0]
    lines = [
        f"## Release (放号): {r['pages']:,} pages waiting, {r['bookers']:,} bookers at the instant",
        "",
        f"bench-hall's `release` resource: {r['slots']} slots, {r['places']} places in all on day D, no "
        "limit per person, each booker its own contact. Its rule (1 day before, at a whole minute UTC) was "
        "written into a fresh copy of the seeded database before the server started; the pages "
        "(GET /events/day/…/D) were open some seconds before the instant. At the instant the bookers, "
        "their connections opened 2.5 s before, each sent POST /api/v1/bookings, spread over the slots. Two "
        "set-ups: one Slotcast process on SQLite; and two processes (python app.py) on one PostgreSQL "
        "database, the pages split evenly over them and the bookers alternating between them (each slot's "
        "bookers too), as behind a load balancer. Page delay: from the instant to the page's receipt of the "
        'first `slots` event holding a Book link (`>Book</a>`); "got": pages that had it, "lost": '
        "pages that never did. Booking latency: from the request's send to its answer. CPU: the server's "
        "user+system seconds (PostgreSQL: the processes' and PostgreSQL's) from 2.5 s before the instant "
        "until every page had the bookable table, then the full one.",
        "",
        *table(
            rows,
            [
                ("set-up", "setup", ""),
                ("pages", "pages", ""),
                ("got", "got", ""),
                ("lost", "lost", ""),
                ("first (ms)", "first_ms", ".0f"),
                ("p50 (ms)", "p50_ms", ".0f"),
                ("p99 (ms)", "p99_ms", ".0f"),
                ("max (ms)", "max_ms", ".0f"),
                ("bookers", "bookers", ""),
                ("places", "places", ""),
                ("confirmed", "confirmed", ""),
                ("booked", "booked", ""),
                ("409 slot_full", "full", ""),
                ("409 not_open_yet", "not_open_yet", ""),
                ("booking p50 (ms)", "book_p50_ms", ".0f"),
                ("booking p99 (ms)", "book_p99_ms", ".0f"),
                ("sold out (ms)", "sold_out_ms", ".0f"),
                ("server CPU (s)", "cpu_s", ".2f"),
            ],
        ),
        "",
        "Every page shows full within 300 ms of the last place going: from the last 201's arrival at its "
        'booker (the "sold out" moment) to the page\'s receipt of the first `slots` event after the '
        'bookable one with no Book link left (every slot of the day shows Full). "never": pages without '
        "it 15 s after the last answer (all of them when the day did not sell out).",
        "",
        *table(
            rows,
            [
                ("set-up", "setup", ""),
                ("pages", "pages", ""),
                ("p50 (ms)", "full_p50_ms", ".0f"),
                ("p99 (ms)", "full_p99_ms", ".0f"),
                ("max (ms)", "full_max_ms", ".0f"),
                ("within 300 ms", "full_in_300", ""),
                ("never", "full_never", ""),
            ],
        ),
        "",
    ]
    for r in rows:
        others = ", ".join(f"{n} {code}" for code, n in r["other"].items())
        lines += [
            f"- {r['setup']}: day D {r['day']}, released at {r['release'][11:16]} UTC; the pages opened in "
            f"{r['open_s']:.1f} s and waited {r['waited_s']:.0f} s; {r['early']} bookings sent 1 s before the "
            f"instant: {r['early_refused']} refused 409 not_open_yet before it (answers: "
            f"{', '.join(r['early_codes'])}); pages with a Book link before the instant: {r['before']}"
            + (f"; other answers to the bookers: {others}" if others else "")
            + f"; confirmed {'==' if r['confirmed'] == r['places'] == r['booked'] else '!='} places (booked: the "
            f"slots' booked total read back afterwards){'' if r['sold_out'] else ', the day did not sell out'}; "
            f'"sold out": from the instant to the last 201 (the last answer of all: '
            f"{r['last_answer_ms']:.0f} ms); the {r['bookers']:,} requests took "
            f"{r['sent_s'] * 1e3:.0f} ms to send; the scenario took {r['seconds']:.0f} s"
        ]
    lines.append("")
    return lines


def cost_section(results: dict) -> list[str]:
    """The request path beside its floor: CPU per request, and a crowd at one slot."""
    c = results["cost"]
    ours, floor, ratio = c["slotcast"], c["quart-post"], c["ratios"]
    return [
        f"## The request path against its floor: {c['count']:,} requests one at a time, then {c['rounds']} crowds "
        f"of {c['bookers']:,} bookers at once",
        "",
        "Slotcast (one process, SQLite) and bench/baselines/quart_post.py (the smallest Quart app taking the same "
        "POST /api/v1/bookings JSON: an in-memory counter of 100 places per slot, no database; the same Quart and "
        "Hypercorn), one after the other in this run. CPU: the server process's user+system seconds per request, "
        "bookings made one at a time over fresh slots, then refusals at a full slot. A crowd: every booker's "
        "connection and POST at once, for one slot of 100 places; answer times from send to answer; the two servers "
        "take turns, and the table shows the median crowd of each (every crowd's p99: "
        f"Slotcast {ours['p99s_ms']} ms, floor {floor['p99s_ms']} ms).",
        "",
        "| | Slotcast | floor | ratio |",
        "|---|---|---|---|",
        f"| CPU per booking made (ms) | {ours['made_ms']:.2f} | {floor['made_ms']:.2f} | {ratio['made_ms']:.2f} |",
        f"| CPU per refusal (ms) | {ours['refusal_ms']:.2f} | {floor['refusal_ms']:.2f} | {ratio['refusal_ms']:.2f} |",
        f"| crowd p50 (ms) | {ours['p50_ms']:.0f} | {floor['p50_ms']:.0f} | |",
        f"| crowd p99 (ms) | {ours['p99_ms']:.0f} | {floor['p99_ms']:.0f} | {ratio['p99_ms']:.2f} |",
        f"| crowd: confirmed (fewest) / unanswered (all crowds) | {ours['confirmed']} / {ours['unanswered']} | "
        f"{floor['confirmed']} / {floor['unanswered']} | |",
        "",
    ]


def draw_section(results: dict) -> list[str]:
    """The draw's table, beside the same run's race release: its bookers' and pages' p99."""
    rows = results["draw"]
    r = rows[0]
    lines = [
        f"## Release by draw (抽签): {r['entries']:,} entries, {r['pages']:,} entrant pages open",
        "",
        "bench-hall's `draw` resource (bench/draw_entries.py): ten slots of 10 places on day D, parties of 1 or 2, "
        "one to three preferred times each. Its rule (by draw, 1 day before, at a whole minute UTC; entries open "
        "24 h before) and its entries were written into a fresh copy of the seeded database before the server "
        "started; every k-th entry had its page's stream open (GET /draws/REF/events?token=…) some seconds before "
        "the instant, and 10 public pages the day's draw stream. The server's own draw task drew at the instant. "
        '"committed": from the instant to the draw\'s commit, as a reader polling its row every 5 ms from outside the '
        'server saw it (bench/draw_watch.py); "drawn": to the first public page\'s receipt of the drawn status. '
        "Result: from the instant to each entrant page's "
        'receipt of its own result (booked, waitlisted or none); "lost": pages without it 20 s after the '
        "instant. CPU: the server's (PostgreSQL: the processes' and PostgreSQL's) from 2.5 s before the instant "
        "until every page had its result. The goal: drawn within 1 s, and every page's result within 1 s p99.",
        "",
        *table(
            rows,
            [
                ("set-up", "setup", ""),
                ("entries", "entries", ""),
                ("places", "places", ""),
                ("booked", "booked", ""),
                ("waitlisted", "waitlisted", ""),
                ("none", "none", ""),
                ("committed (ms)", "committed_ms", ".0f"),
                ("drawn (ms)", "drawn_ms", ".0f"),
                ("pages", "pages", ""),
                ("got", "got", ""),
                ("lost", "lost", ""),
                ("result p50 (ms)", "p50_ms", ".0f"),
                ("result p99 (ms)", "p99_ms", ".0f"),
                ("result max (ms)", "max_ms", ".0f"),
                ("within 1 s", "within_1s", ""),
                ("server CPU (s)", "cpu_s", ".2f"),
            ],
        ),
        "",
    ]
    races = {x["setup"]: x for x in results.get("release", [])}
    if races:
        lines += [
            "Beside the race release of the same run (the table above): the same set-ups, a page's wait for its "
            "news and a booker's for its answer.",
            "",
            "| set-up | draw: committed (ms) | draw: result p99 (ms) | race: page p99 (ms) | race: booking p99 (ms) |",
            "|---|---|---|---|---|",
            *(
                f"| {d['setup']} | {d['committed_ms']:.0f} | {d['p99_ms']:.0f} | "
                + (
                    f"{races[d['setup']]['p99_ms']:.0f} | {races[d['setup']]['book_p99_ms']:.0f} |"
                    if d["setup"] in races
                    else "– | – |"
                )
                for d in rows
            ),
            "",
        ]
    for d in rows:
        lines.append(
            f"- {d['setup']}: day D {d['day']}, drawn at {d['release'][11:16]} UTC ({d['status']}); the pages opened "
            f"in {d['open_s']:.1f} s and waited {d['waited_s']:.0f} s; results before the instant: {d['before']}; "
            f"the last public page saw it drawn at {d['drawn_last_ms']:.0f} ms; the scenario took {d['seconds']:.0f} s"
        )
    lines.append("")
    return lines


def profile_section(results: dict) -> list[str]:
    """py-spy's top functions."""
    top = results["profile"]
    lines = [
        f"## Where Slotcast's time goes (py-spy, {max(results['sizes']):,} streams, a booking a second)",
        "",
        "| self % | total % | function |",
        "|---|---|---|",
        *[f"| {s:.1f} | {t:.1f} | `{f}` |" for s, t, f in top],
        "",
    ]
    return lines


SECTIONS = [
    ("fanout", fanout_section),
    ("quart", quart_section),
    ("soak", soak_section),
    ("polling", polling_section),
    ("burst", burst_section),
    ("cost", cost_section),
    ("wire", wire_section),
    ("release", release_section),
    ("draw", draw_section),
    ("profile", profile_section),
]
