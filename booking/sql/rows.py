"""Rows become dataclasses by column name (SQLite's text and 0/1 parsed on the way); times become HH:MM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, date, datetime, time
from functools import cache
from typing import Any, get_args, get_type_hints

from .engine import Row, T


@cache
def _converters(cls: type) -> dict[str, Callable[[Any], Any]]:
    """Field name -> how a column value becomes that field (SQLite hands back text and 0/1)."""
    hints = get_type_hints(cls)
    converters = {}
    for f in fields(cls):
        types = get_args(hints[f.name]) or (hints[f.name],)
        parse = next((PARSE[t] for t in types if t in PARSE), None)
        converters[f.name] = _converter(parse) if parse else _same
    return converters


PARSE = {
    datetime: lambda text: datetime.fromisoformat(text).replace(tzinfo=UTC),
    date: date.fromisoformat,
    time: time.fromisoformat,
    bool: bool,
}


def _same(value):
    return value


def _converter(parse):
    def convert(value):
        return parse(value) if isinstance(value, str | int) and not isinstance(value, bool) else value

    return convert


as_date = _converter(date.fromisoformat)
as_moment = _converter(PARSE[datetime])


def build(cls: type[T], row: Row, **extra) -> T:
    """A dataclass from a row, by column name (columns it has no field for are left out; `extra` wins over the
    row's columns)."""
    converters = _converters(cls)
    return cls(**({k: converters[k](row[k]) for k in row.keys() if k in converters} | extra))


def hhmm(moment: time | None) -> str | None:
    return moment and moment.isoformat("minutes")
