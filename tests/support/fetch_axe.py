"""Fetch axe-core (the accessibility checker the a11y browser tests inject) from the npm registry, pinned and verified.

Stdlib only, no npm needed: one tarball of a pinned version, checked against the sha512 the registry publishes for it
(its `dist.integrity`), and only `package/axe.min.js` taken out of it, to tests/vendor/ (git-ignored). Idempotent:
a file already there with the pinned version's digest is kept. `make test` runs it (target `axe`).

Run: .venv/bin/python tests/fetch_axe.py
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "4.14.1"
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
TARGET = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
STAMP = TARGET.with_suffix(".version")  # the version and the tarball's digest the file came from


def fetch() -> Path:
    """tests/vendor/axe.min.js of the pinned version (downloaded and verified unless it is there already)."""
    if TARGET.exists() and STAMP.exists() and STAMP.read_text().strip() == f"{VERSION} {INTEGRITY}":
        return TARGET
    with urllib.request.urlopen(TARBALL, timeout=60) as answer:
        data = answer.read()
    algorithm, expected = INTEGRITY.split("-", 1)
    got = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if got != expected:
        sys.exit(f"axe-core {VERSION}: the tarball's {algorithm} is {got}, not the pinned {expected}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        script = tar.extractfile("package/axe.min.js").read()
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    partial = TARGET.with_suffix(".tmp")
    partial.write_bytes(script)
    partial.replace(TARGET)
    STAMP.write_text(f"{VERSION} {INTEGRITY}\n")
    return TARGET


if __name__ == "__main__":
    print(f"axe-core {VERSION}: {fetch()}")
