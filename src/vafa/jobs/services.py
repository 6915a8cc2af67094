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


# Filled at start-up by each app's AppConfig.ready() (register), in INSTALLED_APPS order, which is the order a
# round runs them in: jobs sits below every app and names none of them, as outbox.HANDLERS does for events.
# The order that matters: the outbox is delivered (outbox) before messages are sent (messaging).
PERIODIC: list[PeriodicJob] = []


def register(name: str, every: dt.timedelta, run: Callable[[dt.datetime], object]) -> None:
    """Add a periodic job; `every=0` runs it at every round (the job itself skips what is not due)."""
    if any(job.name == name for job in PERIODIC):
        raise ValueError(f"periodic job {name!r} is registered twice")
    PERIODIC.append(PeriodicJob(name, every, run))


def job_names() -> list[str]:
    return [job.name for job in PERIODIC]


def run_job(name: str, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    job = next((j for j in PERIODIC if j.name == name), None)
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
    for job in PERIODIC:
        finished = last.get(job.name)
        if finished is None or now - finished >= job.every:
            try:
                ran[job.name] = run_job(job.name, now)
            except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
                log.exception("job %s failed", job.name)
                ran[job.name] = f"failed: {exc}"
    return ran
