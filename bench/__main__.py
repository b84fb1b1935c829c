"""`make bench`: Slotcast under Hypercorn, side by side with a Node `http`, a uvicorn + sse-starlette and a minimal
Quart + Hypercorn baseline.

    bench/.venv/bin/python -m bench [--quick] [--sizes 1000,5000] [--only fanout,quart,soak,...] [--name NAME]
                                    [--release PAGES,BOOKERS] [--draw ENTRIES,PAGES]

Run from the project root. Slotcast runs as one process on SQLite, and scaled out as the README says: one process
per core on one PostgreSQL database (a throwaway server, as the tests start). Everything runs on 127.0.0.1; every
loop is bounded in count and time. Writes bench/results/results.{md,png,json} (results-quick.* with --quick).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass

from bench.report import machine, plot, postgres_line, write_report
from bench.scenarios.burst import burst, burst_on_tmpfs
from bench.scenarios.cost import cost
from bench.scenarios.draw import draw
from bench.scenarios.fanout import QUART_N, fanout, minimal_quart_ratio, soak, summary
from bench.scenarios.polling import polling_vs_push
from bench.scenarios.profile import profile
from bench.scenarios.release import release
from bench.scenarios.wire import wire
from bench.servers import (
    Cluster,
    baselines,
    payload,
    seed_database,
    seeded_postgres,
    slotcast,
)
from bench.workspace import RESULTS, WORK, log, pct
from tests.support.live_server import raise_open_files_limit
from tests.support.postgres_server import PostgresServer


@dataclass
class Run:
    """One run's choices, and what its scenarios share: the seeded database, the payload, the report's header."""

    quick: bool
    sizes: list[int]
    release_size: tuple[int, int]
    draw_size: tuple[int, int]
    header: list[str]
    seed: str = ""
    fragment: str = ""

    def postgres(self) -> PostgresServer:
        """A seeded throwaway PostgreSQL; the header says so once (the release starts another)."""
        pg = seeded_postgres()
        if not any(h.startswith("PostgreSQL") for h in self.header):
            self.header.append(postgres_line(pg))
        return pg


async def run_fanout(run: Run) -> dict:
    rows = []
    pg = run.postgres()
    try:
        for n in run.sizes:
            for server in [slotcast(run.seed), Cluster(pg, os.cpu_count())] + baselines(run.fragment):
                result = await fanout(server, n, 5 if run.quick else 10, 1.0 if n < 10000 else 1.5)
                rows.append(dict(server=server.name, **summary(result, n)))
                log(rows[-1])
    finally:
        pg.stop()
    return {"fanout": rows}


async def run_quart(run: Run) -> dict:
    return {"quart": await minimal_quart_ratio(run.seed, run.fragment, QUART_N, 10 if run.quick else 20)}


async def run_soak(run: Run) -> dict:
    n, seconds = (1000, 15) if run.quick else (max(run.sizes), 60)
    result = await soak(run.seed, n, seconds)
    log(f"soak: slowest change {max(result['per_change']) * 1e3:.0f} ms, lost {result['lost']}")
    return {"soak": result}


async def run_polling(run: Run) -> dict:
    return {"polling": await polling_vs_push(run.seed, 1000, 20 if run.quick else 60)}


async def run_burst(run: Run) -> dict:
    seconds = 5 if run.quick else 10
    on_disk = await burst(run.seed, 1000, seconds)
    log(on_disk)
    on_tmpfs = await burst_on_tmpfs(run.seed, 1000, seconds)
    log(on_tmpfs)
    return {"burst": on_disk, "burst_tmpfs": on_tmpfs}


async def run_cost(run: Run) -> dict:
    result = await cost(run.seed, 300 if run.quick else 1000, 2000)
    log(result)
    return {"cost": result}


async def run_wire(run: Run) -> dict:
    result = await wire(run.seed, 20)
    log(result)
    return {"wire": result}


async def run_release(run: Run) -> dict:
    """One process on SQLite, then RELEASE_PROCESSES processes on PostgreSQL."""
    rows = [await release(run.seed, *run.release_size)]
    log(rows[-1])
    pg = run.postgres()
    try:
        rows.append(await release(run.seed, *run.release_size, pg=pg))
        log(rows[-1])
    finally:
        pg.stop()
    return {"release": rows}


async def run_draw(run: Run) -> dict:
    """The draw (抽签) as the release: one process on SQLite, then RELEASE_PROCESSES processes on PostgreSQL."""
    rows = [await draw(run.seed, *run.draw_size)]
    log(rows[-1])
    pg = run.postgres()
    try:
        rows.append(await draw(run.seed, *run.draw_size, pg=pg))
        log(rows[-1])
    finally:
        pg.stop()
    return {"draw": rows}


async def run_profile(run: Run) -> dict:
    try:
        return {"profile": await profile(run.seed, max(run.sizes), 12)}
    except Exception as error:  # the profile is a bonus: never lose the run for it
        log(f"profile failed: {error!r}")
        return {}


SCENARIOS = {
    "fanout": run_fanout,
    "quart": run_quart,
    "soak": run_soak,
    "polling": run_polling,
    "burst": run_burst,
    "cost": run_cost,
    "wire": run_wire,
    "release": run_release,
    "draw": run_draw,
    "profile": run_profile,
}  # in this order


async def main(run: Run, only: set[str], name: str, invocation: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    for old in RESULTS.glob("*.log.tmp"):  # the servers' logs, kept from the last run only
        old.unlink()
    raise_open_files_limit()
    began = time.monotonic()
    run.seed = str(WORK / "seed.db")
    seed_database(run.seed)
    fragment, message_bytes = await payload(run.seed, WORK)
    run.fragment = str(fragment)
    results: dict = dict(sizes=run.sizes)
    for scenario, start in SCENARIOS.items():
        if scenario in only:
            results.update(await start(run))
    write_results(results, run, name, message_bytes, invocation, began)


def write_results(results: dict, run: Run, name: str, message_bytes: int, invocation: str, began: float) -> None:
    """bench/results/NAME.json, NAME.png (with the fan-out) and NAME.md, the report also printed."""
    if "soak" in results:
        # not every delivery: the file stays small
        results["soak"]["p99_ms"] = pct(results["soak"].pop("delays"), 99) * 1e3
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=1))
    if "fanout" in results:
        plot(results["fanout"], results.get("soak"), RESULTS / f"{name}.png")
    run.header.append(
        f"load average at the end {os.getloadavg()[0]:.2f}; the whole run took "
        f"{(time.monotonic() - began) / 60:.1f} min"
    )
    report = write_report(results, run.header, message_bytes, run.quick, invocation)
    (RESULTS / f"{name}.md").write_text(report)
    print(report)


def options(argv: list[str]) -> tuple[argparse.Namespace, set[str]]:
    """The command line's options, and the scenarios to run."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 1,000 only, short phases (2-4 minutes)")
    parser.add_argument("--sizes", default="", help="comma-separated N for the fan-out (default 1000,5000,10000)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios to run")
    parser.add_argument(
        "--release",
        default="",
        metavar="PAGES,BOOKERS",
        help="the release scenario's size (default 5000,1000; with --quick 1000,500)",
    )
    parser.add_argument(
        "--draw",
        default="",
        metavar="ENTRIES,PAGES",
        help="the draw scenario's size (default 20000,5000; with --quick 5000,1000)",
    )
    parser.add_argument("--name", help="results file name (default results, or results-quick)")
    args = parser.parse_args(argv)
    args.sizes = [int(n) for n in args.sizes.split(",") if n] or ([1000] if args.quick else [1000, 5000, 10000])
    only = set(args.only.split(","))
    if unknown := only - set(SCENARIOS):
        parser.error(f"--only: no scenario {', '.join(sorted(unknown))} (there are {', '.join(SCENARIOS)})")
    args.release = (
        tuple(int(n) for n in args.release.split(","))
        if args.release
        else ((1000, 500) if args.quick else (5000, 1000))
    )
    if len(args.release) != 2:
        parser.error("--release takes PAGES,BOOKERS")
    args.draw = (
        tuple(int(n) for n in args.draw.split(",")) if args.draw else ((5000, 1000) if args.quick else (20000, 5000))
    )
    if len(args.draw) != 2:
        parser.error("--draw takes ENTRIES,PAGES")
    if args.quick and "--only" not in argv:
        only.discard("profile")
    return args, only


if __name__ == "__main__":
    try:
        args, only = options(sys.argv[1:])
        invocation = (
            "make bench" + (" QUICK=1" if args.quick else "")
            if set(sys.argv[1:]) <= {"--quick"}
            else shlex.join(["bench/.venv/bin/python", "-m", "bench", *sys.argv[1:]])
        )
        asyncio.run(
            main(
                Run(args.quick, args.sizes, args.release, args.draw, machine()),
                only,
                args.name or ("results-quick" if args.quick else "results"),
                invocation,
            )
        )
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
