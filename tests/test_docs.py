"""The docs a maintainer can find: every setting documented, every link in the README and docs/ leads somewhere."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from app import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
README, DOCS = ROOT / "README.md", ROOT / "docs"
CONFIGURATION = DOCS / "configuration.md"
FENCED, INLINE = re.compile(r"```.*?```", re.DOTALL), re.compile(r"`[^`\n]*`")  # code: no link or heading in it
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
SETTING = re.compile(r"SLOTCAST_[A-Z0-9_]+")
SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:")  # http:, https:, mailto: lead outside the repository


def pages() -> list[Path]:
    """The README and every page in docs/."""
    return [README, *sorted(DOCS.glob("*.md"))]


def documented_settings() -> dict[str, list[str]]:
    """Each setting named in the first cell of a table row of the configuration page: that row's other cells."""
    assert CONFIGURATION.exists(), "docs/configuration.md is missing"
    rows = {}
    for line in CONFIGURATION.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []
        for name in SETTING.findall(cells[0] if cells else ""):
            rows[name] = cells[1:]
    return rows


def anchors(page: Path) -> set[str]:
    """The anchors GitHub makes for a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    made, seen = set(), Counter()
    text = INLINE.sub(lambda code: code.group().strip("`"), FENCED.sub("", page.read_text()))  # a code span's text
    for heading in HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        made.add(f"{slug}-{seen[slug]}" if seen[slug] else slug)  # a repeated heading gets -1, -2, …
        seen[slug] += 1
    return made


def test_every_setting_is_in_the_configuration_page_with_its_default_and_meaning():
    documented = documented_settings()
    missing = [f"SLOTCAST_{key}" for key in DEFAULTS if f"SLOTCAST_{key}" not in documented]
    assert not missing, f"settings of app.DEFAULTS missing from a table row of docs/configuration.md: {missing}"
    bare = [name for name, cells in documented.items() if len(cells) < 2 or not all(cells[:2])]
    assert not bare, f"settings without a default and a meaning in docs/configuration.md: {bare}"


def test_every_setting_the_docs_name_exists():
    named = {name for page in pages() for name in SETTING.findall(page.read_text())}
    unknown = sorted(named - {f"SLOTCAST_{key}" for key in DEFAULTS})
    assert not unknown, f"the docs name settings that app.DEFAULTS does not have: {unknown}"


def test_every_relative_link_leads_to_a_file_and_its_heading():
    broken = []
    for page in pages():
        for target in LINK.findall(INLINE.sub("", FENCED.sub("", page.read_text()))):
            if SCHEME.match(target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading)")
    assert not broken, "links that lead nowhere:\n" + "\n".join(broken)


def test_the_readme_links_every_docs_page():
    assert DOCS.is_dir(), "docs/ is missing"
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in LINK.findall(README.read_text())}
    unlinked = [page.name for page in sorted(DOCS.glob("*.md")) if page.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link: {unlinked}"
