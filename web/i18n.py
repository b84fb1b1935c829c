"""The locale of a request or a render, gettext for templates and views, and local time formats."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache, lru_cache
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, get_day_names
from babel.support import NullTranslations, Translations
from quart import request
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

from booking import rules_text

LOCALES = {"en": "English", "zh_CN": "中文"}
DEFAULT = "en"
CATALOGS = Path(__file__).resolve().parent.parent / "translations"

_locale: ContextVar[str] = ContextVar("locale", default=DEFAULT)


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog of a locale (English needs none)."""
    return Translations.load(CATALOGS, [locale]) if locale != DEFAULT else NullTranslations()


def current() -> str:
    """The locale in force."""
    return _locale.get()


def current_babel() -> Locale:
    """The locale in force as Babel's Locale (parsed once per locale: a render of 5,000 results formats many)."""
    return _babel(_locale.get())


@cache
def _babel(locale: str) -> Locale:
    return Locale.parse(locale)


def set_current(locale: str) -> None:
    """Use `locale` for the rest of this request."""
    _locale.set(locale)


@contextmanager
def use(locale: str):
    """Render in `locale` within the block (the hub renders outside any request)."""
    token = _locale.set(locale)
    try:
        yield
    finally:
        _locale.reset(token)


def gettext(message: str, **values) -> str:
    """Translate `message` and fill its %(name)s placeholders."""
    text = translations(current()).gettext(message)
    return text % values if values else text


def N_(message: str) -> str:
    """Mark a message for the catalog; translate it later with gettext."""
    return message


def ngettext(singular: str, plural: str, n: int, **values) -> str:
    """Translate with a plural form; `num` is filled in."""
    text = translations(current()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def NC_(context: str, message: str) -> str:
    """Mark a message of a context (msgctxt) for the catalog; translate it later with pgettext."""
    return message


def NCP_(context: str, singular: str, plural: str) -> tuple[str, str]:
    """Mark a message with a plural form, of a context, for the catalog; translate it later with npgettext."""
    return singular, plural


def pgettext(context: str, message: str, **values) -> str:
    """Translate `message` as its context (msgctxt) says it, and fill its placeholders."""
    text = translations(current()).pgettext(context, message)
    return text % values if values else text


def npgettext(context: str, singular: str, plural: str, number: int, /, **values) -> str:
    """Translate with a plural form, as its context says it; `num` is filled in."""
    text = translations(current()).npgettext(context, singular, plural, number)
    return text % {"num": number, **values}


def negotiate(asked: str | None, cookie: str | None, accept_language: str) -> str:
    """?lang=, then the lang cookie, then the Accept-Language header."""
    for choice in (asked, cookie):
        if choice in LOCALES:
            return choice
    return preferred(accept_language) if len(accept_language) <= 200 else preferred.__wrapped__(accept_language)


@lru_cache(maxsize=256)
def preferred(accept_language: str) -> str:
    """The locale an Accept-Language header prefers (a few headers make nearly all requests: each parsed once)."""
    best = parse_accept_header(accept_language, LanguageAccept).best_match(["en", "zh-CN", "zh"], default="en")
    return "zh_CN" if best.startswith("zh") else "en"


def this_page_in(locale: str) -> str:
    """The current page's address with ?lang= set, its other query arguments kept (a confirmation's token)."""
    return f"{request.path}?{urlencode({**request.args.to_dict(), 'lang': locale})}"


def local_time(moment: datetime, timezone: str) -> str:
    """'18:30' where the venue is."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%H:%M")


def long_date(day: date) -> str:
    """'Tuesday, 24 November 2026' / '2026年11月24日星期二' in the current locale."""
    return format_date(day, format="full", locale=current_babel())


def shown_name(thing) -> str:
    """A venue's or resource's name in the visitor's language: its Chinese name for zh_CN when it has one."""
    return (current() == "zh_CN" and getattr(thing, "name_zh", "")) or thing.name


def opening_hours(rules) -> list[tuple[str, list[str]]]:
    """The weekly rules as visitors read them: [('Mon–Fri', ['08:00–12:00', '13:30–17:00']), ('Sat', …)]."""
    names = get_day_names("abbreviated", locale=current_babel())
    lines = []
    for first, last, hours in rules_text.weekly_hours(tuple(rules)):
        if last - first == 6:
            days = gettext("Every day")
        elif first == last:
            days = names[first]
        else:
            days = gettext("%(first)s–%(last)s", first=names[first], last=names[last])
        lines.append((days, [f"{opens:%H:%M}–{closes:%H:%M}" for opens, closes in hours]))
    return lines


def short_date(day: date) -> str:
    """'Mon, Nov 30' / '11月30日周一' in the current locale."""
    pattern = "EEE d MMM" if current() == DEFAULT else "M月d日EEE"
    return format_date(day, format=pattern, locale=current_babel())


def short_when(moment: datetime, timezone: str) -> str:
    """'Mon 30 Nov 18:30' / '11月30日周一 18:30': a moment where the venue is, short."""
    return f"{short_date(moment.astimezone(ZoneInfo(timezone)).date())} {local_time(moment, timezone)}"


def html_lang() -> str:
    """The locale as an HTML lang attribute."""
    return current().replace("_", "-")
