"""Static files: read and gzipped once at start, addressed by their content (?v=), kept by browsers for a year."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from functools import cache
from pathlib import Path
from typing import NamedTuple

from quart import Quart, Response, abort, request

from web.clients import accepts_gzip

YEAR = "public, max-age=31536000, immutable"  # the address changes with the content
A_WHILE = "public, max-age=300"  # an address without the version: it may change under it


class Asset(NamedTuple):
    body: bytes
    packed: bytes  # gzip, made once
    version: str  # of the content: part of the address
    mimetype: str


@cache  # once per process: every app the tests create serves the same files
def load(folder: Path) -> dict[str, Asset]:
    """Every file under `folder` by its path there."""
    assets = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        body = path.read_bytes()
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        assets[path.relative_to(folder).as_posix()] = Asset(
            body,
            gzip.compress(body, 9, mtime=0),
            hashlib.sha256(body).hexdigest()[:12],
            f"{kind}; charset=utf-8" if kind.startswith("text/") or kind.endswith(("javascript", "svg+xml")) else kind,
        )
    return assets


def init_app(app: Quart, folder: Path) -> None:
    """Serve `folder` at /static/ (the endpoint url_for knows as 'static'), each address with its version."""
    assets = load(folder)

    async def static(filename: str):
        asset = assets.get(filename) or abort(404)
        packed = accepts_gzip() and len(asset.packed) < len(asset.body)
        tag = f"{asset.version}-gz" if packed else asset.version
        headers = {
            "ETag": f'"{tag}"',
            "Vary": "Accept-Encoding",
            "Cache-Control": YEAR if request.args.get("v") == asset.version else A_WHILE,
        }
        if request.if_none_match.contains(tag):
            return Response(b"", 304, headers)
        if packed:
            headers["Content-Encoding"] = "gzip"
        return Response(asset.packed if packed else asset.body, 200, headers, content_type=asset.mimetype)

    def versioned(endpoint: str, values: dict) -> None:
        if endpoint == "static" and values.get("filename") in assets:
            values.setdefault("v", assets[values["filename"]].version)

    app.add_url_rule("/static/<path:filename>", "static", static)
    app.url_defaults(versioned)
