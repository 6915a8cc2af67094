"""Development channel: each message is printed to standard output as one JSON line."""

from __future__ import annotations

import sys

from vafa.messaging.channels.local import LocalChannel


class ConsoleChannel(LocalChannel):
    name = "console"

    def write(self, lines: list[str]) -> None:
        for line in lines:
            print(line, file=sys.stdout, flush=True)
