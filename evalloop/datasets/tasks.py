from celery import shared_task

from evalloop.datasets import jobs


@shared_task
def run_import(job_id: int) -> None:
    """Import a large selection of sessions into a dataset, committing chunk by chunk."""
    jobs.run_import_job(job_id=job_id)
