"""What the development channels (file, console) share: they take every message at once and know of no
delivery reports, so a message they took counts as delivered."""

from __future__ import annotations

import json

from vafa.messaging.channels.base import DELIVERED, Outcome, Outgoing, now_iso


class LocalChannel:
    name = "local"
    batch_size = 1000

    def line(self, item: Outgoing) -> str:
        return json.dumps({"channel": self.name, "to": item.to, "text": item.text, "kind": item.kind,
                           "member_id": item.member_id, "message_id": item.message_id, "at": now_iso()},
                          ensure_ascii=False)

    def write(self, lines: list[str]) -> None:
        raise NotImplementedError

    def send(self, items: list[Outgoing]) -> list[Outcome]:
        self.write([self.line(item) for item in items])
        return [Outcome(item.message_id, DELIVERED, provider_message_id=f"{self.name}-{item.message_id}")
                for item in items]

    def find_sent(self, items: list[Outgoing]) -> dict[int, Outcome]:
        return {}  # a development channel: after a crash the message is written again

    def poll_status(self, provider_ids: list[str]) -> dict[str, str]:
        return {}

    def send_code(self, to: str, code: str, text: str, template: str, message_id: int) -> Outcome:
        return self.send([Outgoing(message_id, to, text, kind="otp")])[0]

    def account_info(self) -> dict:
        return {"channel": self.name}
