"""Kavenegar (kavenegar.com), the SMS provider most Iranian clubs use: a thin adapter over its REST API with the
standard library (the `kavenegar` package on PyPI is unmaintained since 2018; docs/decisions.md).

Every call is ``POST {base}/{API-KEY}/{scope}/{method}.json`` with form fields, answered
``{"return": {"status": 200, "message": "..."}, "entries": [...]}``; a refusal carries its code in
``return.status`` (and as the HTTP status). The key is in the URL path, so URLs are never logged unmasked.

Vafa sends its own message id as `localid` (`localmessageids` in sendarray): after a crash between handing a
message over and recording the answer, `statuslocalmessageid` tells whether the first try went out, and the
message is sent again only when it did not.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from vafa.messaging.channels.base import BLOCKED, DELIVERED, FAILED, RETRY, SENT, UNKNOWN, Outcome, Outgoing

log = logging.getLogger("vafa.messaging.kavenegar")

DEFAULT_URL = "https://api.kavenegar.com/v1"
BATCH_SIZE = 200  # sendarray takes at most 200 messages (414 beyond)
TIMEOUT_SECONDS = 10.0

# return.status codes: the temporary ones are tried again with backoff; every other refusal is permanent and
# fails the message with its reason.
TEMPORARY = {409: "provider_busy", 418: "insufficient_credit", 451: "provider_rate_limit", 402: "provider_failed"}
PERMANENT = {
    400: "missing_parameters", 401: "account_disabled", 403: "invalid_api_key", 404: "unknown_method",
    405: "wrong_http_method", 406: "missing_parameters", 407: "no_access", 411: "invalid_receptor",
    412: "invalid_sender", 413: "message_empty_or_too_long", 414: "too_many_messages", 415: "index_out_of_range",
    416: "ip_not_allowed", 417: "invalid_date", 419: "array_lengths_differ", 420: "links_not_allowed",
    422: "invalid_characters", 424: "template_not_found", 426: "needs_advanced_plan", 428: "code_must_be_digits",
    431: "bad_template", 432: "template_code_missing", 501: "test_account_own_number_only",
}
# A message's own status (entries[].status): 1/2 queued or scheduled, 4/5 with the operator, 6 failed,
# 10 delivered, 11 undelivered, 13 cancelled, 14 blocked by the recipient, 100 unknown id.
MESSAGE_STATES = {6: FAILED, 10: DELIVERED, 11: FAILED, 13: FAILED, 14: BLOCKED}
UNKNOWN_MESSAGE = 100


class KavenegarError(Exception):
    def __init__(self, code: int, reason: str, temporary: bool) -> None:
        super().__init__(f"kavenegar {code}: {reason}")
        self.code, self.reason, self.temporary = code, reason, temporary


def _state_after(exc: KavenegarError) -> str:
    """A refusal Kavenegar answered (a code in its JSON) means nothing was sent; no answer at all (code 0:
    timeout, cut connection, garbage) means it may have been."""
    if not exc.temporary:
        return FAILED
    return RETRY if exc.code else UNKNOWN


def mask(text: str, api_key: str) -> str:
    """The text with the API key replaced by its last 4 characters."""
    return text.replace(api_key, "…" + api_key[-4:]) if api_key else text


def local_number(e164: str) -> str:
    """+989121234567 → 09121234567, the form Kavenegar's receptors take for Iranian numbers."""
    return "0" + e164[3:] if e164.startswith("+98") else e164.lstrip("+")


class KavenegarChannel:
    name = "kavenegar"
    batch_size = BATCH_SIZE

    def __init__(self, api_key: str, base_url: str | None = None, timeout: float | None = None) -> None:
        self.api_key = api_key
        self.base_url = (base_url or os.environ.get("VAFA_KAVENEGAR_URL") or DEFAULT_URL).rstrip("/")
        self.timeout = timeout if timeout is not None else float(
            os.environ.get("VAFA_KAVENEGAR_TIMEOUT") or TIMEOUT_SECONDS)

    # --- the HTTP call ----------------------------------------------------------------------------------------

    def call(self, scope: str, method: str, fields: dict) -> Any:
        """POST one API method; answers `entries`, or raises KavenegarError (temporary for timeouts, network
        errors, 5xx and the codes in TEMPORARY)."""
        if not self.api_key:
            raise KavenegarError(403, "invalid_api_key", temporary=False)
        url = f"{self.base_url}/{urllib.parse.quote(self.api_key, safe='')}/{scope}/{method}.json"
        body = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Accept": "application/json",
            "User-Agent": "Vafa-Messaging/1"})
        shown = mask(url, self.api_key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read() or b""
            if exc.code >= 500 and not raw:
                log.warning("kavenegar %s answered HTTP %s", shown, exc.code)
                raise KavenegarError(exc.code, "provider_unavailable", temporary=True) from None
        except TimeoutError:
            log.warning("kavenegar %s timed out after %.1f s", shown, self.timeout)
            raise KavenegarError(0, "timeout", temporary=True) from None
        except (urllib.error.URLError, OSError) as exc:
            log.warning("kavenegar %s unreachable: %s", shown, mask(str(exc), self.api_key))
            raise KavenegarError(0, "unreachable", temporary=True) from None
        try:
            answer = json.loads(raw)
            status = int(answer["return"]["status"])
        except (ValueError, KeyError, TypeError):
            log.warning("kavenegar %s answered something that is not its JSON", shown)
            raise KavenegarError(0, "bad_answer", temporary=True) from None
        if status != 200:
            temporary = status in TEMPORARY or status >= 500 and status not in PERMANENT
            reason = TEMPORARY.get(status) or PERMANENT.get(status) or f"provider_code_{status}"
            log.warning("kavenegar %s refused: %s %s", shown, status, reason)
            raise KavenegarError(status, reason, temporary)
        return answer.get("entries") or []

    # --- sending ----------------------------------------------------------------------------------------------

    def _sent(self, item: Outgoing, entry: dict) -> Outcome:
        state = MESSAGE_STATES.get(int(entry.get("status") or 1), SENT)
        return Outcome(item.message_id, state, provider_message_id=str(entry.get("messageid", "")),
                       cost=int(entry.get("cost") or 0), error=str(entry.get("statustext", ""))[:300]
                       if state in (FAILED, BLOCKED) else "")

    def send(self, items: list[Outgoing]) -> list[Outcome]:
        if not items:
            return []
        try:
            if len(items) == 1:
                item = items[0]
                entries = self.call("sms", "send", {"receptor": local_number(item.to), "message": item.text,
                                                    "sender": item.sender, "localid": str(item.message_id)})
            else:
                entries = self.call("sms", "sendarray", {
                    "receptor": json.dumps([local_number(i.to) for i in items]),
                    "sender": json.dumps([i.sender for i in items]),
                    "message": json.dumps([i.text for i in items], ensure_ascii=False),
                    "localmessageids": json.dumps([str(i.message_id) for i in items])})
        except KavenegarError as exc:
            if not exc.temporary and len(items) > 1 and exc.code in (411, 413, 420, 422):
                # One bad receptor or text refuses the whole array: send one by one so only it fails.
                return [outcome for item in items for outcome in self.send([item])]
            return [Outcome(i.message_id, _state_after(exc), error=exc.reason) for i in items]
        if len(entries) != len(items):
            return [Outcome(i.message_id, UNKNOWN, error="bad_answer") for i in items]
        return [self._sent(item, entry) for item, entry in zip(items, entries, strict=True)]

    def find_sent(self, items: list[Outgoing]) -> dict[int, Outcome]:
        if not items:
            return {}
        entries = self.call("sms", "statuslocalmessageid", {"localid": ",".join(str(i.message_id) for i in items)})
        by_local = {str(e.get("localid")): e for e in entries}
        found = {}
        for item in items:
            entry = by_local.get(str(item.message_id))
            if entry and int(entry.get("status") or UNKNOWN_MESSAGE) != UNKNOWN_MESSAGE and entry.get("messageid"):
                found[item.message_id] = self._sent(item, entry)
        return found

    def poll_status(self, provider_ids: list[str]) -> dict[str, str]:
        states: dict[str, str] = {}
        for start in range(0, len(provider_ids), 500):  # status takes at most 500 ids
            chunk = provider_ids[start:start + 500]
            for entry in self.call("sms", "status", {"messageid": ",".join(chunk)}):
                state = MESSAGE_STATES.get(int(entry.get("status") or 0))
                if state is not None:
                    states[str(entry.get("messageid"))] = state
        return states

    def send_code(self, to: str, code: str, text: str, template: str, message_id: int) -> Outcome:
        if not template:
            return self.send([Outgoing(message_id, to, text, kind="otp")])[0]
        try:
            entries = self.call("verify", "lookup", {"receptor": local_number(to), "token": code,
                                                      "template": template})
        except KavenegarError as exc:
            return Outcome(message_id, _state_after(exc), error=exc.reason)
        entry = entries[0] if entries else {}
        return Outcome(message_id, SENT, provider_message_id=str(entry.get("messageid", "")),
                       cost=int(entry.get("cost") or 0))

    def account_info(self) -> dict:
        entries = self.call("account", "info", {})  # one object here, not a list
        return entries if isinstance(entries, dict) else (entries[0] if entries else {})
