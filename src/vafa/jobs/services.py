"""The periodic jobs and when they are due. Every job is idempotent, so running one twice, or on two machines
at once, changes nothing the second time."""

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from django.utils import timezone

from vafa.jobs.models import JobRun

log = logging.getLogger("vafa.jobs")


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: dt.timedelta
    run: Callable[[dt.datetime], object]


def _jobs() -> list[PeriodicJob]:
    from vafa.backups.tasks import scheduled_backup
    from vafa.clubs.services import renew_plans
    from vafa.ledger.tasks import expire_lots, grant_birthday_gifts, release_pending, remind_expiring
    from vafa.messaging.occasions import greet_occasions
    from vafa.messaging.services import poll_delivery_reports, send_now
    from vafa.outbox.services import deliver_due
    from vafa.panel.rollups import roll_up_reports
    from vafa.panel.services import refresh_dashboards
    from vafa.purchases.tasks import review_tiers
    from vafa.webhooks.services import deliver_webhooks

    return [
        PeriodicJob("release_pending", dt.timedelta(minutes=5), release_pending),
        PeriodicJob("expire_lots", dt.timedelta(hours=1), expire_lots),
        PeriodicJob("remind_expiring", dt.timedelta(days=1), remind_expiring),
        PeriodicJob("review_tiers", dt.timedelta(hours=6), review_tiers),
        PeriodicJob("birthday_gifts", dt.timedelta(hours=12), grant_birthday_gifts),
        PeriodicJob("renew_plans", dt.timedelta(hours=1), renew_plans),
        PeriodicJob("deliver_outbox", dt.timedelta(seconds=0), deliver_due),
        PeriodicJob("deliver_webhooks", dt.timedelta(seconds=0), deliver_webhooks),
        PeriodicJob("send_messages", dt.timedelta(seconds=0), send_now),  # after deliver_outbox
        PeriodicJob("message_reports", dt.timedelta(minutes=5), poll_delivery_reports),
        PeriodicJob("greetings", dt.timedelta(hours=1), greet_occasions),
        PeriodicJob("backup", dt.timedelta(days=1), scheduled_backup),
        # every time the worker polls: the job itself skips dashboards younger than FIGURES_EVERY
        PeriodicJob("dashboard_figures", dt.timedelta(seconds=0), refresh_dashboards),
        # the reports' kept days (panel.rollups): a run takes in what was written since the last one
        PeriodicJob("report_rollups", dt.timedelta(minutes=10), roll_up_reports),
    ]


def job_names() -> list[str]:
    return [job.name for job in _jobs()]


def run_job(name: str, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    job = next((j for j in _jobs() if j.name == name), None)
    if job is None:
        raise KeyError(name)
    run, _ = JobRun.objects.get_or_create(name=name)
    run.last_started_at = now
    try:
        result = job.run(now)
    except Exception:
        run.last_error = traceback.format_exc()[-4000:]
        run.save()
        raise
    run.last_finished_at = now
    run.last_result = str(result)[:300]
    run.last_error = ""
    run.save()
    return run.last_result


def run_due(now: dt.datetime | None = None) -> dict[str, str]:
    """Run every job whose interval has passed since it last finished."""
    now = now or timezone.now()
    ran = {}
    last = dict(JobRun.objects.values_list("name", "last_finished_at"))
    for job in _jobs():
        finished = last.get(job.name)
        if finished is None or now - finished >= job.every:
            try:
                ran[job.name] = run_job(job.name, now)
            except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
                log.exception("job %s failed", job.name)
                ran[job.name] = f"failed: {exc}"
    return ran
