"""The demo's channel: one JSON line per message in <data-dir>/messages.jsonl, so a person trying the demo
(and a test) can read every SMS and one-time code that was sent."""

from __future__ import annotations

import fcntl
from pathlib import Path

from django.conf import settings

from vafa.messaging.channels.local import LocalChannel


def messages_path() -> Path:
    return Path(settings.DATA_DIR) / "messages.jsonl"


class FileChannel(LocalChannel):
    name = "file"

    def write(self, lines: list[str]) -> None:
        path = messages_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            fcntl.flock(out, fcntl.LOCK_EX)  # two workers append whole lines, never interleaved
            out.write("".join(line + "\n" for line in lines))
