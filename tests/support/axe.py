"""axe-core in a Playwright page: inject it, run it, and fail with every violation spelled out.

The script is tests/vendor/axe.min.js (fetched, pinned and verified, by tests/support/fetch_axe.py). The app's
Content-Security-Policy refuses an injected script, so the page must be in a context made with bypass_csp=True: keep
such contexts apart from the ones that check the CSP (tests/test_browser_pages.py).
"""

from __future__ import annotations

from tests.support import fetch_axe

# Every rule axe runs by default (WCAG 2.0-2.2 A and AA, and its best practices), and on request the AAA contrast.
RUN = """async (enhanced) => {
  const options = {resultTypes: ['violations'],
                   rules: enhanced ? {'color-contrast-enhanced': {enabled: true}} : {}};
  const results = await axe.run(document, options);
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, url: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), html: n.html, summary: n.failureSummary})),
  }));
}"""


def script() -> str:
    """The path of axe.min.js (fetched first if it is not there yet)."""
    return str(fetch_axe.fetch())


def violations(page, *, enhanced: bool = False) -> list[dict]:
    """axe's violations on the page as it is now; `enhanced` adds the AAA contrast rule (7:1)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=script())
    return page.evaluate(RUN, enhanced)


def report(found: list[dict]) -> str:
    """One paragraph per violation: its id, impact and help, then each node it found, with why."""
    lines = []
    for v in found:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['url']})")
        for node in v["nodes"]:
            lines.append(f"    {node['target']}\n        {node['html'][:200]}")
            lines.extend(f"        {line}" for line in (node["summary"] or "").splitlines())
    return "\n".join(lines)


def assert_accessible(page, what: str, *, enhanced: bool = False) -> None:
    """No violation of any impact on the page, or an assertion naming `what` and listing them all."""
    found = violations(page, enhanced=enhanced)
    assert not found, f"{what} ({page.url}): {len(found)} axe violation(s)\n{report(found)}"
