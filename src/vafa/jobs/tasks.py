"""Periodic jobs as django-tasks tasks, so they can also be enqueued and run by the worker."""

from django_tasks import task


@task()
def run_job_task(name: str) -> str:
    from vafa.jobs.services import run_job

    return run_job(name)
