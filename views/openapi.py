"""The JSON API's contract: an OpenAPI 3.1 document built from the routes that serve it, and its interactive docs.

Each API view declares its operation with `@contract`; the schemas live in views/openapi_schemas.py, once. The document walks the app's
url_map, so a route under /api/v1 without a contract has no document (Undocumented): tests/test_openapi.py fails.
"""

from __future__ import annotations

import inspect
import re
from http import HTTPStatus

from quart import Blueprint, Quart, current_app, jsonify, render_template

from .openapi_schemas import (
    BEARER,
    ERRORS,
    KEY_ERRORS,
    PARAMETERS,
    POST_ERRORS,
    RETRY_AFTER,
    SCHEMAS,
    SECURITY,
    TEXT,
    ref,
)

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

PREFIX = "/api/v1/"
# static/vendor/rapidoc-9.3.8.min.js is dist/rapidoc-min.js of the npm package rapidoc 9.3.8, as published (tarball
# sha512-eCYEbr1Xr8OJZvVCw8SXl9zBCRoLJbhNGuG5IZTHq/RWAOq/O4MafUCuFEyZHsrhLrlUcGZMa64pyhpib8fQKQ==).
RAPIDOC = "vendor/rapidoc-9.3.8.min.js"


class Undocumented(LookupError):
    """An /api/v1 route whose view declares no contract."""


def contract(
    *,
    ok: dict,
    errors: dict | None = None,
    parameters: tuple[str, ...] = (),
    body: str | None = None,
    links: dict | None = None,
    scopes: tuple[str, ...] = (),
    key_optional: bool = False,
):
    """Declare a view's operation: `ok` status -> schema name (or (media type, schema name)), `errors` status ->
    the error codes it may carry, `parameters` by name (path ones come from the route), `body` a schema name;
    `scopes`: the API key scopes it needs (none: it takes no key), and `key_optional` when it serves without one."""

    def declare(view):
        view.contract = dict(
            ok=ok,
            errors=errors or {},
            parameters=parameters,
            body=body,
            links=links or {},
            scopes=scopes,
            key_optional=key_optional,
        )
        return view

    return declare


ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")  # <venue>, <int:id>


def path_of(rule) -> str:
    """A werkzeug rule as an Open API path: <venue> -> {venue}."""
    return ARGUMENT.sub(r"{\1}", rule.rule)


def error_response(status: int, codes: tuple[str, ...]) -> dict:
    """An error status's answer: `{error, code}` with the codes this operation may give it."""
    codes = tuple(dict.fromkeys(ERRORS[status][1] + codes))
    body = {"allOf": [ref("Error"), {"properties": {"code": {"enum": list(codes)}}}]}
    answer = {
        "description": f"{ERRORS[status][0]} `code`: " + ", ".join(f"`{c}`" for c in codes),
        "content": {"application/json": {"schema": body}},
    }
    if status in (429, 503):
        answer["headers"] = {"Retry-After": RETRY_AFTER | {"required": True}}
    return answer


def operation(rule, method: str, view) -> dict:
    """The Open API operation `view` declares for `method` on `rule`."""
    declared = getattr(view, "contract", None)
    if declared is None:
        raise Undocumented(f"{method} {rule.rule} ({rule.endpoint}) has no @contract")
    description = " ".join((inspect.getdoc(view) or rule.endpoint).split())
    summary = re.split(r"[:.](?:\s|$)", description, maxsplit=1)[0]  # "Cancel …: 200, 403" -> "Cancel …"
    names = [*ARGUMENT.findall(rule.rule), *declared["parameters"]]
    errors = {
        **{s: () for s in POST_ERRORS if method == "POST"},
        400: (),
        **({404: ()} if rule.arguments else {}),
        503: ("outcome_unknown",) if method == "POST" else (),
        **declared["errors"],
    }
    if declared["scopes"]:  # a key's refusals, with the operation's own codes for the same statuses
        for status, codes in KEY_ERRORS.items():
            errors[status] = codes + errors.get(status, ())
    responses = {}
    for status, schema in declared["ok"].items():
        media, name = schema if isinstance(schema, tuple) else ("application/json", schema)
        responses[str(status)] = {"description": HTTPStatus(status).phrase, "content": {media: {"schema": ref(name)}}}
        if media == "text/event-stream":
            responses[str(status)]["headers"] = {
                "Retry-After": RETRY_AFTER
                | {
                    "description": (
                        "Only on a stream refused by a cap: it ends at once (no event); come back after this many seconds."
                    )
                }
            }
        if status in declared["links"]:
            responses[str(status)]["links"] = declared["links"][status]
    for status in sorted(errors):
        responses[str(status)] = error_response(status, errors[status])
    tag = "documentation" if rule.endpoint.startswith("openapi.") else rule.rule.removeprefix(PREFIX).split("/")[0]
    op = {
        "operationId": rule.endpoint.rpartition(".")[2],
        "summary": summary,
        "description": description,
        "tags": [tag],
        "parameters": [ref(name, "parameters") for name in names],
        "responses": responses,
    }
    if declared["scopes"]:
        op["security"] = [{SECURITY: list(declared["scopes"])}, *([{}] if declared["key_optional"] else [])]
    if declared["body"]:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref(declared["body"])}}}
    return op


def document(app: Quart) -> dict:
    """The Open API 3.1 document of every route under /api/v1 (Undocumented if one declares no contract)."""
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.rule.startswith(PREFIX):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                paths.setdefault(path_of(rule), {})[method.lower()] = operation(
                    rule, method, app.view_functions[rule.endpoint]
                )
    parameters = {name: {"name": name, "required": p["in"] == "path", **p} for name, p in PARAMETERS.items()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Slotcast API",
            "version": "1",
            "description": (
                "Venues, their slots (also live, as an event stream), bookings, the waitlist and draws (抽签), as JSON. "
                'Every error is JSON `{"error": "a sentence", "code": "slot_full"}`, also a 405 for a method a '
                "path does not take (with `Allow`), a 404 for any unknown /api/ address, a 503 with `Retry-After` while "
                "the database cannot serve (`unavailable`; `outcome_unknown` when a change may have been saved: send "
                "bookings with an Idempotency-Key, and sending one again is safe), and a 500 (`server_error`, never "
                "details)."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "parameters": parameters,
            "securitySchemes": {SECURITY: BEARER},
            "responses": {
                "MethodNotAllowed": {
                    "description": "A method the path does not take; `Allow` lists those it does.",
                    "headers": {"Allow": {"required": True, "schema": TEXT}},
                    "content": {"application/json": {"schema": ref("Error")}},
                }
            },
        },
    }


@bp.get("/openapi.json")
@contract(ok={200: "OpenAPI"})
async def openapi_document():
    """The API's contract: this document, Open API 3.1, built from the routes that serve it."""
    if "openapi" not in current_app.extensions:  # the routes are fixed once the app serves
        current_app.extensions["openapi"] = document(current_app)
    return jsonify(current_app.extensions["openapi"])


@bp.get("/docs")
@contract(ok={200: ("text/html", "Page")})
async def docs():
    """The API's interactive documentation (RapiDoc, vendored), for people."""
    return await render_template("api_docs.html", rapidoc=RAPIDOC)
