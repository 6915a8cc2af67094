"""A small fake of Kavenegar's REST API on loopback, speaking its URL shapes and JSON answers, for tests and the
benchmark: `with FakeKavenegar() as fake:` then point VAFA_KAVENEGAR_URL at `fake.url`.

It counts every message it receives (`fake.received`), remembers `localid`s for `statuslocalmessageid`, answers
`status` from `fake.statuses`, and can be told to refuse the next calls (`fake.fail_next = [451, 411]`), to be
slow (`fake.delay = 2.0`) or to refuse one receptor (INVALID_RECEPTOR → 411). It does not dedupe by localid on
purpose, so a test sees every duplicate the client would cause."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_KEY = "4A6B2C3D4E5F6A7B8C9D0E1F2A3B4C5D6E7F8A9B"
INVALID_RECEPTOR = "09000000000"


class FakeKavenegar:
    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.received: list[dict] = []  # every message handed over: receptor, message, sender, localid, messageid
        self.by_local: dict[str, dict] = {}
        self.statuses: dict[str, int] = {}  # messageid → status code answered by sms/status
        self.calls: list[str] = []  # "sms/send", "sms/sendarray" …
        self.paths: list[str] = []
        self.fail_next: list[int] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        self._next_id = 1000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                fields = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
                status, entries = fake.answer(self.path, fields)
                body = json.dumps({"return": {"status": status, "message": "ok" if status == 200 else "error"},
                                   "entries": entries}, ensure_ascii=False).encode()
                if fake.delay:
                    time.sleep(fake.delay)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self) -> FakeKavenegar:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _take(self, receptor: str, message: str, sender: str, localid: str) -> dict:
        self._next_id += 1
        entry = {"messageid": self._next_id, "message": message, "status": 1, "statustext": "در صف ارسال",
                 "sender": sender, "receptor": receptor, "date": int(time.time()), "cost": 1200}
        self.received.append({"receptor": receptor, "message": message, "sender": sender, "localid": localid,
                              "messageid": self._next_id})
        if localid:
            self.by_local[localid] = entry
        return entry

    def answer(self, path: str, fields: dict) -> tuple[int, object]:
        prefix = "/v1/"
        if not path.startswith(prefix) or not path.endswith(".json"):
            return 404, None
        key, _, method = path[len(prefix):-len(".json")].partition("/")
        with self.lock:
            self.calls.append(method)
            self.paths.append(path)
            if key != self.api_key:
                return 403, None
            if self.fail_next:
                return self.fail_next.pop(0), None
            if method == "sms/send":
                if fields.get("receptor") == INVALID_RECEPTOR:
                    return 411, None
                return 200, [self._take(fields["receptor"], fields["message"], fields.get("sender", ""),
                                        fields.get("localid", ""))]
            if method == "sms/sendarray":
                receptors = json.loads(fields["receptor"])
                messages, senders = json.loads(fields["message"]), json.loads(fields["sender"])
                locals_ = json.loads(fields.get("localmessageids") or "[]") or [""] * len(receptors)
                if len(receptors) > 200:
                    return 414, None
                if not len(receptors) == len(messages) == len(senders) == len(locals_):
                    return 419, None
                if INVALID_RECEPTOR in receptors:
                    return 411, None
                return 200, [self._take(r, m, s, str(i)) for r, m, s, i in
                             zip(receptors, messages, senders, locals_, strict=True)]
            if method == "verify/lookup":
                if not fields.get("template"):
                    return 424, None
                return 200, [self._take(fields["receptor"], f"{fields['template']}:{fields['token']}", "", "")]
            if method == "sms/status":
                return 200, [{"messageid": int(i), "status": self.statuses.get(i, 4), "statustext": ""}
                             for i in fields["messageid"].split(",")]
            if method == "sms/statuslocalmessageid":
                answers = []
                for local in fields["localid"].split(","):
                    found = self.by_local.get(local)
                    answers.append({"messageid": found["messageid"], "localid": local, "status": found["status"],
                                    "statustext": ""} if found else
                                   {"messageid": 0, "localid": local, "status": 100, "statustext": ""})
                return 200, answers
            if method == "account/info":
                return 200, {"remaincredit": 125000, "expiredate": 1893456000, "type": "master"}
            return 404, None


if __name__ == "__main__":  # a fake for trying a staging setup by hand
    with FakeKavenegar() as fake:
        print(fake.url, fake.api_key, flush=True)
        threading.Event().wait()
