import json
from pathlib import Path

import yaml
from django.core.management.base import BaseCommand, CommandError

from vafa.core.errors import InvalidInput, NotFound
from vafa.program.document import dump_document
from vafa.program.selectors import active_program
from vafa.program.services import activate_program, validate_program
from vafa.tenancy.selectors import business_by_slug


class Command(BaseCommand):
    help = "The program document: `show` prints the active version (YAML or JSON); `apply FILE` validates and activates."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show")
        show.add_argument("--business", required=True)
        show.add_argument("--format", choices=["yaml", "json"], default="yaml")
        apply = sub.add_parser("apply")
        apply.add_argument("file")
        apply.add_argument("--business", required=True)
        apply.add_argument("--check", action="store_true", help="validate only, activate nothing")

    def handle(self, *args, action, business, **options):
        try:
            tenant = business_by_slug(business)
        except NotFound as exc:
            raise CommandError(f"no business with slug {business!r}") from exc
        if action == "show":
            version, document = active_program(tenant)
            data = {"version": version.version, **dump_document(document)}
            if options["format"] == "json":
                self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            else:
                self.stdout.write(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
            return
        path = Path(options["file"])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
        except (OSError, yaml.YAMLError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        if isinstance(data, dict):
            data.pop("version", None)
        try:
            if options["check"]:
                validate_program(data)
                self.stdout.write("valid")
                return
            version = activate_program(tenant, data)
        except InvalidInput as exc:
            for error in exc.errors:
                self.stderr.write(f"{error['field'] or '(document)'}: {error['message']}")
            raise CommandError(f"the program has {len(exc.errors)} problem(s); nothing was activated") from exc
        self.stdout.write(f"activated version {version.version}")
