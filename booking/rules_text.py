"""Weekly rules and day exceptions as plain text lines, so staff edit them in a textarea.

mon-fri 08:00-12:00 30 5     weekdays, 30-minute slots, 5 places each
sat,sun 10:00-14:00 60 8
2026-12-25 closed
2026-12-24 10:00-13:00 30 4
"""

from __future__ import annotations

from datetime import date, time

from .model import DayException, OpeningRule

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RuleProblem(ValueError):
    """Line `line` (1-based) says something the parser cannot use; `code` names what."""

    def __init__(self, line: int, code: str):
        super().__init__(f"line {line}: {code}")
        self.line, self.code = line, code


def parse_days(spec: str) -> list[int]:
    """'mon-fri,sun' -> [0, 1, 2, 3, 4, 6]; 'daily' -> every day."""
    if spec == "daily":
        return list(range(7))
    days = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        a, b = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        days.extend(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return sorted(set(days))


def parse_hours(text: str, minutes: str, capacity: str) -> tuple[time, time, int, int]:
    opens, closes = (time.fromisoformat(t) for t in text.split("-"))
    length, places = int(minutes.removesuffix("min")), int(capacity.lstrip("x×"))
    if opens >= closes:
        raise ValueError("hours")
    if not 5 <= length <= 24 * 60 or not 0 <= places <= 10_000:
        raise ValueError("numbers")
    return opens, closes, length, places


def parse(text: str) -> tuple[list[OpeningRule], list[DayException]]:
    """Rules and exceptions from the lines of `text`; raises RuleProblem."""
    rules, exceptions = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        words = raw.split("#")[0].lower().split()
        if not words:
            continue
        try:
            if words[0][:1].isdigit():
                day = date.fromisoformat(words[0])
                if words[1:] == ["closed"]:
                    exceptions.append(DayException(day))
                    continue
                opens, closes, length, places = parse_hours(*words[1:])
                exceptions.append(DayException(day, opens, closes, length, places))
            else:
                opens, closes, length, places = parse_hours(*words[1:])
                rules.extend(OpeningRule(d, opens, closes, length, places) for d in parse_days(words[0]))
        except (ValueError, TypeError, IndexError):
            raise RuleProblem(number, "unreadable") from None
    return rules, exceptions


def to_text(rules: tuple[OpeningRule, ...], exceptions: tuple[DayException, ...]) -> str:
    """The text that parses back to these rules and exceptions."""
    lines = [f"{DAYS[r.weekday]} {r.opens:%H:%M}-{r.closes:%H:%M} {r.slot_minutes} {r.capacity}" for r in rules]
    for e in exceptions:
        hours = "closed" if e.closed else f"{e.opens:%H:%M}-{e.closes:%H:%M} {e.slot_minutes} {e.capacity}"
        lines.append(f"{e.local_date.isoformat()} {hours}")
    return "\n".join(lines)


def weekly_hours(rules: tuple[OpeningRule, ...]) -> list[tuple[int, int, tuple[tuple[time, time], ...]]]:
    """The opening hours as visitors read them: (first day, last day, hours) for each run of days (0 = Monday)
    open the same hours, sessions that touch or overlap joined into one; days without places are left out.

    mon-fri 08:00-12:00 30 5, mon-fri 13:30-17:00 30 4, sat 08:00-12:00 60 8
        -> [(0, 4, ((08:00, 12:00), (13:30, 17:00))), (5, 5, ((08:00, 12:00),))]
    """
    by_day: dict[int, list[tuple[time, time]]] = {}
    for rule in sorted((r for r in rules if r.capacity > 0), key=lambda r: r.opens):
        hours = by_day.setdefault(rule.weekday, [])
        if hours and rule.opens <= hours[-1][1]:
            hours[-1] = (hours[-1][0], max(hours[-1][1], rule.closes))
        else:
            hours.append((rule.opens, rule.closes))
    runs: list[tuple[int, int, tuple[tuple[time, time], ...]]] = []
    for day in sorted(by_day):
        hours = tuple(by_day[day])
        if runs and runs[-1][1] == day - 1 and runs[-1][2] == hours:
            runs[-1] = (runs[-1][0], day, hours)
        else:
            runs.append((day, day, hours))
    return runs
