"""The `memstrata` command and the worker's schedule."""

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memory.core.settings import LifecycleSettings, ReflectionSettings, Settings
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
        assert set(jobs) == {
            "lifecycle",
            "extract",
            "embed",
            "reseal",
            "reflect",
            "nightly-reflect",
        }
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


def test_ingest_then_resume_round_trip(fresh_database: str, tmp_path: Path) -> None:
    start = datetime.now(UTC) - timedelta(days=3)  # the CLI runs on the real clock
    turns = [
        ("user", "I work as a pilot and I love sailing."),
        ("assistant", "Nice!"),
        ("user", "Should I buy a dinghy or a keelboat?"),
    ]
    lines = [
        {"role": role, "content": content, "at": (start + timedelta(minutes=i)).isoformat()}
        for i, (role, content) in enumerate(turns)
    ]
    source = tmp_path / "chat.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    env = {"MEMSTRATA_DATABASE_URL": fresh_database, "COLUMNS": "200"}
    who = ["--tenant", "acme", "--user", "sam"]
    runner = CliRunner()
    assert runner.invoke(app, ["tenant", "create", "acme"], env=env).exit_code == 0
    first = runner.invoke(app, ["ingest", str(source), *who], env=env)
    assert first.exit_code == 0, first.output
    assert "3 messages appended, 0 already there" in first.output
    again = runner.invoke(app, ["ingest", str(source), *who], env=env)
    assert "0 messages appended, 3 already there" in again.output, "safe to re-run"
    assert runner.invoke(app, ["worker", "--once"], env=env).exit_code == 0
    resumed = runner.invoke(app, ["resume", "any sailing tips?", *who], env=env)
    assert resumed.exit_code == 0, resumed.output
    assert "primed" in resumed.output and "keelboat" in resumed.output
    recalled = runner.invoke(app, ["recall", "what is their job", *who], env=env)
    assert "pilot" in recalled.output
    exported = runner.invoke(app, ["export", *who], env=env)
    assert '"tier": "message"' in exported.output
    assert runner.invoke(app, ["forget", "--yes", *who], env=env).exit_code == 0
    after = runner.invoke(app, ["export", *who], env=env).output.strip().splitlines()
    assert [json.loads(line)["tier"] for line in after] == ["end"]


def test_ingest_of_a_file_that_grew_appends_only_the_new_lines(
    fresh_database: str, tmp_path: Path
) -> None:
    source = tmp_path / "chat.jsonl"
    lines = [{"role": "user", "content": f"note {n}"} for n in range(3)]
    source.write_text("\n".join(json.dumps(line) for line in lines[:2]) + "\n")
    env = {"MEMSTRATA_DATABASE_URL": fresh_database}
    who = ["--tenant", "acme", "--user", "sam"]
    assert CliRunner().invoke(app, ["tenant", "create", "acme"], env=env).exit_code == 0
    first = CliRunner().invoke(app, ["ingest", str(source), *who], env=env)
    assert "2 messages appended, 0 already there" in first.output, first.output
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    grown = CliRunner().invoke(app, ["ingest", str(source), *who], env=env)
    assert "1 messages appended, 2 already there" in grown.output, grown.output
    exported = CliRunner().invoke(app, ["export", *who], env=env).output.splitlines()
    sessions = {json.loads(row)["session_id"] for row in exported if '"tier": "message"' in row}
    assert len(sessions) == 1, "the grown file continues the same session"


def test_ingest_names_the_bad_line(fresh_database: str, tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"role": "user", "content": "ok"}\n{"role": "user"}\n')
    env = {"MEMSTRATA_DATABASE_URL": fresh_database}
    assert CliRunner().invoke(app, ["tenant", "create", "default"], env=env).exit_code == 0
    result = CliRunner().invoke(app, ["ingest", str(source)], env=env)
    assert result.exit_code == 1 and "line 2" in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["recall", "anything"],
        ["resume"],
        ["journal"],
        ["export"],
        ["forget", "--yes"],
        ["memory", "list"],
        ["memory", "add", "profile", "Is a nurse"],
    ],
)
def test_a_data_command_for_a_tenant_that_does_not_exist_is_an_error(
    fresh_database: str, command: list[str]
) -> None:
    """A typo in -t names no tenant: the command says so, and creates nothing."""
    env = {"MEMSTRATA_DATABASE_URL": fresh_database, "COLUMNS": "200"}
    result = CliRunner().invoke(app, [*command, "--tenant", "acmee"], env=env)
    assert result.exit_code == 1
    assert "tenant 'acmee' does not exist" in result.output
    assert "memstrata tenant create acmee" in result.output
    listed = CliRunner().invoke(app, ["memory", "list", "--tenant", "acmee"], env=env)
    assert listed.exit_code == 1, "nothing was created"


def test_tenant_create_prints_a_key(fresh_database: str) -> None:
    result = CliRunner().invoke(
        app, ["tenant", "create", "acme"], env={"MEMSTRATA_DATABASE_URL": fresh_database}
    )
    assert result.exit_code == 0 and result.output.strip().startswith("ms_")


def test_tenant_create_for_a_tenant_that_exists_says_so(fresh_database: str) -> None:
    env = {"MEMSTRATA_DATABASE_URL": fresh_database}
    first = CliRunner().invoke(app, ["tenant", "create", "acme"], env=env)
    again = CliRunner().invoke(app, ["tenant", "create", "acme"], env=env)
    assert again.exit_code == 1 and "exists" in again.output and "--add-key" in again.output
    another = CliRunner().invoke(app, ["tenant", "create", "acme", "--add-key"], env=env)
    assert another.exit_code == 0 and another.output.strip().startswith("ms_")
    assert another.output.strip() != first.output.strip()


def test_recall_takes_a_short_k(fresh_database: str) -> None:
    env = {"MEMSTRATA_DATABASE_URL": fresh_database}
    assert CliRunner().invoke(app, ["tenant", "create", "default"], env=env).exit_code == 0
    result = CliRunner().invoke(app, ["recall", "anything", "-k", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert CliRunner().invoke(app, ["recall", "anything", "-k", "0"], env=env).exit_code == 2


def test_eval_runs_an_offline_eval_and_refuses_unknown_ones(
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert CliRunner().invoke(app, ["eval", "nonsense"]).exit_code == 2
    result = CliRunner().invoke(app, ["eval", "extraction", "--help"])
    assert result.exit_code == 0
    assert "--split" in capfd.readouterr().out  # the eval's own options (its own process)
    wrapper = CliRunner().invoke(app, ["eval", "-h"])
    assert wrapper.exit_code == 0 and "One of:" in wrapper.output


def test_serve_refuses_an_open_bind_without_auth() -> None:
    result = CliRunner().invoke(
        app, ["serve", "--host", "0.0.0.0"], env={"MEMSTRATA_API__AUTH": "false"}
    )
    assert result.exit_code == 1 and "refusing" in result.output


def test_keys_rotate_seals_what_was_written_in_the_clear(
    fresh_database: str, tmp_path: Path
) -> None:
    source = tmp_path / "chat.jsonl"
    source.write_text(json.dumps({"role": "user", "content": "my locker code is 4471"}) + "\n")
    plain = {"MEMSTRATA_DATABASE_URL": fresh_database, "COLUMNS": "200"}
    runner = CliRunner()
    assert runner.invoke(app, ["tenant", "create", "default"], env=plain).exit_code == 0
    assert runner.invoke(app, ["ingest", str(source)], env=plain).exit_code == 0
    key = base64.b64encode(os.urandom(32)).decode()
    sealed = {**plain, "MEMSTRATA_ENCRYPTION__KEYS": json.dumps({"k1": key})}
    before = runner.invoke(app, ["keys"], env=sealed)
    assert before.exit_code == 0 and "(plaintext)" in before.output
    rotated = runner.invoke(app, ["keys", "--rotate"], env=sealed)
    assert "re-sealed 1 rows" in rotated.output and "(plaintext)" not in rotated.output
    exported = runner.invoke(app, ["export"], env=sealed)
    assert "my locker code is 4471" in exported.output
    missing = runner.invoke(app, ["export"], env=plain)
    assert missing.exit_code != 0 and "'k1'" in missing.output
