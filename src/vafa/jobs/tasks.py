"""Periodic jobs as django-tasks tasks, so they can also be enqueued and run by the worker."""

from django_tasks import task

from vafa.jobs.services import run_job


@task()
def run_job_task(name: str) -> str:
    return run_job(name)
