"""The offline evals themselves: LoCoMo's evidence ids and scoring, a whole LoCoMo run on a
tiny conversation written in the dataset's format (through the real tiers, worker and
recall), and the performance report with its plots."""

import argparse
import json
from pathlib import Path

import pytest
from rich.console import Console

from evals import bench, locomo, locomo_data


def test_malformed_evidence_ids_are_normalised_or_dropped() -> None:
    known = {"D8:6", "D9:17", "D11:26", "D30:5", "D1:3"}
    ids, dropped = locomo_data.normalise_evidence(
        ["D8:6; D9:17", "D:11:26", "D30:05", "D", "D1:3", "D1:3", "D99:1"], known
    )
    assert ids == ("D8:6", "D9:17", "D11:26", "D30:5", "D1:3")
    assert dropped == 2  # "D" names no turn; D99:1 is not in the conversation


def test_scores_count_evidence_covered_by_rank() -> None:
    scores = locomo.Scores()
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
    scores = locomo.Scores()
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
    }
]  # fmt: skip


async def test_locomo_run_scores_memstrata_and_both_baselines(
    server_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps(TINY))
    conversations = locomo_data.load(data)
    assert [s.number for s in conversations[0].sessions] == [1, 2]  # empty session skipped
    assert conversations[0].questions[1].evidence == ("D1:4", "D2:3")

    result = await locomo.run(data, str(tmp_path), None, Console(quiet=True), server_url)

    assert result.questions == 4 and result.turns == 7
    assert result.stored["messages"] == 7
    assert result.stored["session_summaries"] == 2  # the worker ran on simulated time
    assert set(result.tallies) == {
        "dense turns",
        "BM25 turns",
        *(variant.name for variant in locomo.ABLATION),
    }
    ours = result.tallies[locomo.MEMSTRATA]
    assert ours.overall().questions == 3 and ours.by_category[5].questions == 1
    # Seven turns: every retriever finds all evidence within 25.
    for tally in result.tallies.values():
        assert tally.overall().row()["R@25"] == 100
    # The greyhound's name is one rare word away: memstrata ranks that turn first.
    assert ours.by_category[4].row()["R@1"] == 100
    # The answer "Lisbon!" shares no word with the question; the question before it does.
    assert ours.by_category[2].row()["R@5"] == 100
    assert locomo.to_json(result)["retrievers"][locomo.MEMSTRATA]["1-4"]["R@25"] == 100


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
