"""The `vafa` command: Django's management commands with a global `--data-dir`.

`--data-dir DIR` may stand anywhere on the command line; it is taken out before Django parses the rest, so
every command (ours and Django's) accepts it. `VAFA_DATABASE_URL`, when set, wins over the data directory.
"""

import os
import sys


def _take_data_dir(argv: list[str]) -> list[str]:
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--data-dir" and i + 1 < len(argv):
            os.environ["VAFA_DATA_DIR"] = argv[i + 1]
            i += 2
            continue
        if arg.startswith("--data-dir="):
            os.environ["VAFA_DATA_DIR"] = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return rest


def main(argv: list[str] | None = None) -> None:
    args = _take_data_dir(list(sys.argv[1:] if argv is None else argv))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vafa.settings")
    # Django is loaded only once --data-dir has set the environment its settings read.
    import django

    django.setup()
    # After django.setup(): these import the apps' models.
    from django.core.management import execute_from_command_line

    from vafa.core.usecase import origin

    with origin("cli", " ".join(["vafa", *args[:2]])):  # what a command writes is audited as the command line's
        execute_from_command_line(["vafa", *args])


if __name__ == "__main__":
    main()
