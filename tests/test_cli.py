"""The `memstrata` command and the worker's schedule."""

from typer.testing import CliRunner

from memory.settings import LifecycleSettings, ReflectionSettings, Settings
from reflection.scheduler import build_scheduler
from service.cli import app
from service.container import Container, build_container


def test_db_upgrade_and_one_worker_pass(fresh_database: str) -> None:
    runner = CliRunner()
    env = {"MEMSTRATA_DATABASE_URL": fresh_database, "MEMSTRATA_REFLECTION__EXTRACTION": "rules"}
    upgraded = runner.invoke(app, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    worked = runner.invoke(app, ["worker", "--once"], env=env)
    assert worked.exit_code == 0, worked.output


def test_a_misconfigured_worker_says_why(fresh_database: str) -> None:
    env = {"MEMSTRATA_DATABASE_URL": fresh_database, "MEMSTRATA_REFLECTION__EXTRACTION": "llm"}
    result = CliRunner().invoke(app, ["worker", "--once"], env=env)
    assert result.exit_code == 1
    assert "MEMSTRATA_LLM__BASE_URL" in result.output


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "worker", "db"):
        assert command in result.output


async def test_the_schedule_runs_each_job_alone_and_coalesces(fresh_database: str) -> None:
    container: Container = await build_container(Settings(database_url=fresh_database))
    try:
        scheduler = build_scheduler(container.worker, ReflectionSettings(), LifecycleSettings())
        scheduler.start(paused=True)
        jobs = {job.id: job for job in scheduler.get_jobs()}
        scheduler.shutdown(wait=False)
        assert set(jobs) == {"lifecycle", "extract", "embed", "reflect", "nightly-reflect"}
        assert all(job.max_instances == 1 and job.coalesce for job in jobs.values())
        assert jobs["lifecycle"].trigger.interval.total_seconds() == 300
    finally:
        await container.close()


def test_the_demo_shows_all_three_modes(server_url: str) -> None:
    result = CliRunner().invoke(
        app, ["demo"], env={"MEMSTRATA_DATABASE_URL": server_url, "COLUMNS": "120"}
    )
    assert result.exit_code == 0, result.output
    for mode in ("full_restore", "primed", "fresh"):
        assert mode in result.output
    assert "prompt context" in result.output and "[fact:" in result.output
