import os
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Worker

from vafa.jobs.services import run_due


class Command(BaseCommand):
    help = "The one background worker: runs the periodic jobs when due and the queued django-tasks tasks."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
        parser.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: run forever)")

    def handle(self, *args, interval, rounds, **options):
        done = 0
        while not rounds or done < rounds:
            close_old_connections()
            run_due()
            Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                   max_tasks=None, worker_id=f"vafa-{os.getpid()}", excluded_queue_names=[]).run()
            done += 1
            if not rounds or done < rounds:
                time.sleep(interval)
