"""A real HTTP server for the text messages' tests: a Twilio-compatible Messages endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.support.live_server import free_port

ACCOUNT, TOKEN = "ACtest0123456789", "auth-token-of-the-test"
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


class MessagesApi:
    """POST /2010-04-01/Accounts/<account>/Messages.json as Twilio answers it: HTTP basic auth with the account and
    its token (401 otherwise), a form with To (E.164), From and Body (400 otherwise), then the next of `answers` (a
    status: its JSON error) or, once they run out, 201 with the message's sid. `messages` keeps every form taken,
    `requests` every POST, accepted or not."""

    def __init__(self, *answers: int):
        self.answers, self.messages, self.requests = list(answers), [], []
        self.port = free_port()
        self.path = f"/2010-04-01/Accounts/{ACCOUNT}"
        self.url = f"http://{ACCOUNT}:{TOKEN}@127.0.0.1:{self.port}{self.path}"
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                form = {k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()}
                api.requests.append((dict(self.headers), form))
                status, answer = api.answer(self.path, self.headers, form)
                body = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def answer(self, path: str, headers, form: dict) -> tuple[int, dict]:
        """The status and JSON for one POST."""
        if path != f"{self.path}/Messages.json":
            return 404, {"code": 20404, "message": "The requested resource was not found", "status": 404}
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        if headers.get("Authorization") != expected:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        if headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return 400, {"code": 20001, "message": "Not a form", "status": 400}
        if not E164.fullmatch(form.get("To", "")):
            return 400, {"code": 21211, "message": f"The 'To' number {form.get('To')} is not valid.", "status": 400}
        if not form.get("From") or not form.get("Body"):
            return 400, {"code": 21602, "message": "Message body and From are required.", "status": 400}
        if self.answers:
            status = self.answers.pop(0)
            return status, {"code": 20429 if status == 429 else 30000 + status, "message": "Told to", "status": status}
        sid = "SM" + secrets.token_hex(16)
        self.messages.append({**form, "sid": sid})
        return 201, {"sid": sid, "status": "queued", "to": form["To"], "from": form["From"], "body": form["Body"]}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        """The messages taken once `count` have been (fails after `timeout` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} of {count} text messages arrived"
            await asyncio.sleep(0.02)
        return self.messages
