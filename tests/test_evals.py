"""The offline evals themselves: LoCoMo's evidence ids and scoring, whole LoCoMo runs on a
tiny conversation written in the dataset's format (through the real tiers, worker and
recall; raw transcripts kept or deleted after the default retention; rules or the oracle
extractor, served over HTTP to memstrata's LLM extractor through the real `openai` SDK),
and the performance report with its plots."""

import argparse
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from evals import bench, locomo, locomo_data, locomo_report, locomo_scores, oracle
from memory.core.domain import Role, Scope
from memory.core.errors import BackendUnavailable
from memory.core.records import Message
from memory.core.settings import LLMSettings
from memory.infra.llm import LLM, Usage
from reflection.extraction import LLMExtractor
from reflection.prompts import extraction, summary


def test_malformed_evidence_ids_are_normalised_or_dropped() -> None:
    known = {"D8:6", "D9:17", "D11:26", "D30:5", "D1:3"}
    ids, dropped = locomo_data.normalise_evidence(
        ["D8:6; D9:17", "D:11:26", "D30:05", "D", "D1:3", "D1:3", "D99:1"], known
    )
    assert ids == ("D8:6", "D9:17", "D11:26", "D30:5", "D1:3")
    assert dropped == 2  # "D" names no turn; D99:1 is not in the conversation


def test_scores_count_evidence_covered_by_rank() -> None:
    scores = locomo_scores.Scores()
    # Evidence {a, b}: rank 2 covers a, rank 7 covers b and c (a fact with two sources).
    ranking = [frozenset(), frozenset({"a"})] + [frozenset()] * 4 + [frozenset({"b", "c"})]
    scores.add(ranking, ["a", "b"])
    row = scores.row()
    assert row["R@1"] == 0
    assert row["R@5"] == 50
    assert row["R@10"] == 100 and row["R@25"] == 100
    assert row["all@10"] == 100
    assert row["MRR"] == 50  # first hit at rank 2


def test_a_short_ranking_keeps_what_it_covered_for_larger_k() -> None:
    scores = locomo_scores.Scores()
    scores.add([frozenset({"a"})], ["a", "b"])
    assert scores.row()["R@25"] == 50


def _turn(dia_id: str, speaker: str, text: str) -> dict[str, str]:
    return {"speaker": speaker, "dia_id": dia_id, "text": text}


TINY = [
    {
        "sample_id": "conv-test",
        "conversation": {
            "speaker_a": "Ana",
            "speaker_b": "Ben",
            "session_1_date_time": "10:00 am on 3 March, 2024",
            "session_1": [
                _turn("D1:1", "Ana", "Hi Ben! I adopted a greyhound called Comet last weekend."),
                _turn("D1:2", "Ben", "Congrats! How is Comet settling in?"),
                _turn("D1:3", "Ana", "He sleeps all day on the sofa."),
                _turn("D1:4", "Ben", "I started learning the cello, it is hard."),
            ],
            "session_2_date_time": "6:30 pm on 20 March, 2024",
            "session_2": [
                _turn("D2:1", "Ben", "Where did you go for your trip?"),
                _turn("D2:2", "Ana", "Lisbon! The tiles everywhere were beautiful."),
                _turn("D2:3", "Ben", "My cello teacher says I am improving."),
            ],
            "session_3_date_time": "9:00 am on 1 April, 2024",
            "session_3": [],
            # Two months later: by its question time the first two sessions are older than
            # the default retention.
            "session_4_date_time": "8:15 pm on 20 May, 2024",
            "session_4": [
                _turn("D4:1", "Ana", "Comet turned four today."),
                _turn("D4:2", "Ben", "Happy birthday to him!"),
            ],
        },
        "qa": [
            {"question": "What is the name of Ana's greyhound?", "answer": "Comet",
             "evidence": ["D1:1"], "category": 4},
            {"question": "Which instrument is Ben learning?", "answer": "cello",
             "evidence": ["D1:4", "D:2:3"], "category": 1},
            {"question": "Where did Ana go for her trip?", "answer": "Lisbon",
             "evidence": ["D2:02"], "category": 2},
            {"question": "What did Ben adopt?", "adversarial_answer": "a greyhound",
             "evidence": ["D1:1"], "category": 5},
        ],
        # Read only by the oracle extractor.
        "observation": {
            "session_1_observation": {
                "Ana": [["Ana adopted a greyhound named Comet.", "D1:1"]],
                "Ben": [["Ben is learning to play the cello.", "D1:4"]],
            },
            "session_2_observation": {
                "Ana": [["Ana went on a trip to Lisbon.", ["D2:1", "D2:02"]]],
                "Ben": [["Ben's cello teacher says he is improving.", "D2:3"]],
            },
            "session_4_observation": {"Ana": [["Ana's greyhound Comet turned four.", "D4:1"]]},
        },
    }
]  # fmt: skip
TURNS = 9
OBSERVATIONS = 5


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps(TINY))
    return data


async def test_locomo_run_scores_memstrata_and_both_baselines(
    server_url: str, tmp_path: Path, tiny: Path
) -> None:
    conversations = locomo_data.load(tiny)
    assert [s.number for s in conversations[0].sessions] == [1, 2, 4]  # empty session skipped
    assert conversations[0].questions[1].evidence == ("D1:4", "D2:3")

    result = await locomo.run(
        tiny, str(tmp_path), None, Console(quiet=True), server_url, retention="keep"
    )

    assert result.questions == 4 and result.turns == TURNS
    assert result.sizes.rows["raw_kept"] == TURNS  # ten years: every raw turn is still there
    assert result.sizes.rows["session_summaries"] == 3  # the worker ran on simulated time
    assert result.oracle is None and result.jobs["extract ok"]["llm_calls"] == 0
    assert set(result.tallies) == {
        "dense turns",
        "BM25 turns",
        *(variant.name for variant in locomo_scores.ABLATION),
    }
    ours = result.tallies[locomo_scores.MEMSTRATA]
    assert ours.overall().questions == 3 and ours.by_category[5].questions == 1
    # Nine turns: every retriever finds all evidence within 25.
    for tally in result.tallies.values():
        assert tally.overall().row()["R@25"] == 100
    # The greyhound's name is one rare word away: memstrata ranks that turn first.
    assert ours.by_category[4].row()["R@1"] == 100
    # The answer "Lisbon!" shares no word with the question; the question before it does.
    assert ours.by_category[2].row()["R@5"] == 100
    assert (
        locomo_report.to_json(result)["retrievers"][locomo_scores.MEMSTRATA]["1-4"]["R@25"] == 100
    )


def _r25(result: locomo_report.Result, name: str) -> float:
    return result.tallies[name].overall().row()["R@25"]


async def test_default_retention_deletes_the_old_raw_turns_before_the_questions(
    server_url: str, tmp_path: Path, tiny: Path
) -> None:
    result = await locomo.run(tiny, str(tmp_path), None, Console(quiet=True), server_url)

    assert result.retention == "default"
    assert result.settings.lifecycle.retention_s == 30 * 24 * 3600
    sizes = result.sizes
    contents = [turn.content for turn in locomo_data.load(tiny)[0].turns]
    assert (sizes.ingested_messages, sizes.ingested_chars) == (TURNS, sum(map(len, contents)))
    # Only the last session, ended two days before the questions, keeps its raw turns.
    assert sizes.rows["raw_kept"] == 2
    assert sizes.chars["raw_kept"] == len(contents[-1]) + len(contents[-2])
    assert sizes.rows["session_summaries"] == 3 and sizes.rows["journal_latest"] == 1
    assert sizes.rows["journal_all_versions"] == 3
    assert sizes.chars["journal_all_versions"] >= sizes.chars["journal_latest"] > 0
    derived = sum(sizes.chars[t] for t in ("facts", "knowledge", "session_summaries"))
    assert sizes.derived_chars == derived + sizes.chars["journal_latest"]
    assert sizes.derived_ratio == pytest.approx(sizes.derived_chars / sizes.ingested_chars)
    # Every question's evidence was in the deleted sessions: raw recall finds none of it,
    # while the baselines index every turn whatever the retention.
    assert _r25(result, "raw turns, cosine + BM25") == 0
    assert _r25(result, "dense turns") == _r25(result, "BM25 turns") == 100
    report = locomo_report.to_json(result)
    assert report["sizes_at_question_time"]["raw_kept"] == {
        "rows": 2,
        "chars": sizes.chars["raw_kept"],
    }
    assert report["sizes_at_question_time"]["derived_chars"] == sizes.derived_chars


def _message(seq: int, content: str, at: datetime) -> Message:
    scope = Scope("locomo", "conv-test")
    key = f"k{seq}"
    return Message(uuid.uuid4(), scope, uuid.uuid4(), seq, Role.USER, content, key, at)


async def test_the_oracle_answers_memstrata_llm_path_with_the_observations(tiny: Path) -> None:
    observations = oracle.load_observations(tiny)
    assert len(observations["conv-test"]) == OBSERVATIONS
    assert observations["conv-test"][2].evidence == ("D2:1", "D2:2")  # "D2:02" normalised
    answers = oracle.Oracle(observations)
    at = datetime(2024, 3, 20, 18, 30, tzinfo=UTC)
    shown = [
        _message(1, "Ben: Where did you go for your trip?", at),
        _message(2, "Ana: Lisbon! The tiles everywhere\nwere beautiful.", at),
        _message(3, "Ben: My cello teacher says I am improving.", at),
    ]
    for dia_id, message in zip(("D2:1", "D2:2", "D2:3"), shown, strict=True):
        answers.register("conv-test", dia_id, message.content, message.created_at)
    with oracle.serve(answers) as url:
        llm = LLM(LLMSettings(base_url=url, model=oracle.MODEL))
        try:
            found = await LLMExtractor(llm).extract(shown, usage := Usage())
            told = await llm.json(
                summary.SYSTEM, summary.render(shown, []), summary.Response, Usage()
            )
            with pytest.raises(BackendUnavailable):  # a prompt it was not built for
                await llm.json("Write a poem.", "about memory", extraction.Response, Usage())
        finally:
            await llm.close()
    assert [(c.text, c.kind.value, c.importance, c.confidence) for c in found] == [
        ("Ana went on a trip to Lisbon.", "observation", 0.5, 1.0),
        ("Ben's cello teacher says he is improving.", "observation", 0.5, 1.0),
    ]
    assert found[0].source_message_ids == (shown[0].id, shown[1].id)
    assert usage.calls == 1
    assert told.text == "Ana went on a trip to Lisbon. Ben's cello teacher says he is improving."
    stats = answers.stats
    assert (stats.extraction_requests, stats.summary_requests, stats.refused_requests) == (1, 1, 1)
    assert stats.prompt_messages == 6 and stats.unmatched_messages == 0
    assert stats.facts_served == 2


async def test_locomo_with_the_oracle_extractor_recalls_through_the_facts(
    server_url: str, tmp_path: Path, tiny: Path
) -> None:
    result = await locomo.run(
        tiny, str(tmp_path), None, Console(quiet=True), server_url, extractor="oracle"
    )

    assert result.settings.reflection.extraction == "llm"
    assert result.settings.llm.model == oracle.MODEL
    stats = result.oracle
    assert stats is not None and stats.unmatched_messages == 0
    assert stats.facts_served == OBSERVATIONS
    # Each session's turns are shown twice: to extraction, then to the summary.
    assert stats.prompt_messages == 2 * TURNS
    assert stats.summary_requests == 3 and stats.refused_requests == 0
    assert result.jobs["extract ok"]["llm_calls"] == stats.extraction_requests > 0
    assert "extract failed" not in result.jobs
    assert result.sizes.rows["facts"] == OBSERVATIONS
    # The raw turns of the first sessions are gone; the oracle's facts cite them.
    assert _r25(result, "raw turns, cosine + BM25") == 0
    assert _r25(result, locomo_scores.MEMSTRATA) == 100
    assert locomo_report.to_json(result)["extractor_note"] == oracle.LABEL


def test_both_retentions_print_their_tables_a_summary_and_one_report(
    server_url: str, tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "reports"
    common = ["--data", str(tiny), "--database-url", server_url, "--data-dir", str(tmp_path)]
    locomo.main([*common, "--retention", "both", "--questions", "2", "--out", str(out)])

    printed = capsys.readouterr().out
    assert printed.count("Stored size at question time") == 2
    summary = printed.split("summary")[-1]
    assert "[retention default (30 days), extractor rules] R@10" in summary
    assert "[retention keep (3650 days), extractor rules] R@10" in summary
    assert "every raw turn indexed" in summary
    (written,) = out.glob("locomo-*.json")
    runs = json.loads(written.read_text())["runs"]
    assert [r["retention"] for r in runs] == ["default", "keep"]
    assert [r["sizes_at_question_time"]["raw_kept"]["rows"] for r in runs] == [2, TURNS]
    assert all(r["questions"] == 2 for r in runs)


def test_the_llm_extractor_needs_a_configured_model(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEMSTRATA_LLM__BASE_URL", raising=False)
    monkeypatch.delenv("MEMSTRATA_LLM__MODEL", raising=False)
    with pytest.raises(SystemExit) as exited:
        locomo.main(["--data", str(tiny), "--extractor", "llm"])
    assert exited.value.code == 2


async def test_bench_report_renders_with_its_plots(server_url: str, tmp_path: Path) -> None:
    args = argparse.Namespace(
        max_rows=1_000,
        queries=5,
        messages=20,
        repeats=1,
        database_url=server_url,
        data_dir=str(tmp_path),
    )
    result = await bench.run(args, Console(quiet=True))
    assert result["ingest"]["messages"] == 20
    assert result["ingest"]["ingest_with_embeddings_per_s"] > 0
    assert [r["rows"] for r in result["recall_scaling"]] == [1_000]
    assert result["recall_scaling"][0]["complete"]["share"] == 1.0
    assert set(result["resume"]) == {"full_restore", "primed", "fresh"}
    written = bench.write(result, tmp_path / "report")
    report = (written / "report.md").read_text()
    assert "![recall latency against stored memories](recall_scaling.png)" in report
    for png in ("recall_scaling.png", "operations.png"):
        assert (written / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((written / "bench.json").read_text())["machine"]["cpus"] >= 1


@pytest.mark.parametrize("name", ["locomo", "bench"])
def test_the_evals_show_their_options(name: str) -> None:
    from typer.testing import CliRunner

    from service.cli import app

    result = CliRunner().invoke(app, ["eval", name, "--help"])
    assert result.exit_code == 0
