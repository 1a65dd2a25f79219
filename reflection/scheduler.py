"""The worker's schedule (APScheduler 3, `AsyncIOScheduler`): each job at its interval from
settings, one instance at a time, missed runs coalesced. Job failures are logged at this
boundary and never stop the scheduler."""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from memory.core.settings import LifecycleSettings, ReflectionSettings
from reflection.worker import Worker

log = logging.getLogger(__name__)


def _logged(name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            outcome = await job()
            log.info("job %s done: %s", name, outcome, extra={"job": name})
        except Exception:
            log.exception("job %s failed", name, extra={"job": name})

    return run


def build_scheduler(
    worker: Worker, reflection: ReflectionSettings, lifecycle: LifecycleSettings
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone=UTC,
        job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 300},
    )
    jobs: list[tuple[str, Callable[[], Awaitable[object]], object]] = [
        ("lifecycle", worker.lifecycle, IntervalTrigger(seconds=lifecycle.sweep_interval_s)),
        ("extract", worker.extract_due, IntervalTrigger(seconds=reflection.extract_interval_s)),
        ("embed", worker.embed, IntervalTrigger(seconds=reflection.embed_interval_s)),
        ("reseal", worker.reseal, IntervalTrigger(seconds=reflection.embed_interval_s)),
        ("reflect", worker.reflect_due, IntervalTrigger(seconds=reflection.reflect_interval_s)),
        (
            "nightly-reflect",
            worker.reflect_due,
            CronTrigger(hour=reflection.nightly_reflect_hour_utc, timezone=UTC),
        ),
    ]
    for name, job, trigger in jobs:
        scheduler.add_job(_logged(name, job), trigger, id=name, name=name)
    return scheduler
