"""URL builders compiled once per process: each test's new app would compile every route's again (~35 ms an app)."""

from __future__ import annotations

from werkzeug.routing.rules import Rule

COMPILE_BUILDER = Rule._compile_builder
BUILDERS: dict[tuple, object] = {}


def compile_builder(rule: Rule, append_unknown: bool = True):
    """Werkzeug's builder for `rule`, reused for an equal rule: the code depends only on the key's parts (the
    converters it calls are looked up on the rule at each call)."""
    key = (
        append_unknown,
        rule.rule,
        tuple(rule._trace),
        tuple((name, type(converter)) for name, converter in rule._converters.items()),
        repr(sorted((rule.defaults or {}).items())),
    )
    if (builder := BUILDERS.get(key)) is None:
        builder = BUILDERS[key] = COMPILE_BUILDER(rule, append_unknown)
    return builder


def reuse_url_builders() -> None:
    """Install the cache (tests only)."""
    Rule._compile_builder = compile_builder
