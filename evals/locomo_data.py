"""The LoCoMo data as the eval reads it: conversations of dated sessions of turns, and
questions with their evidence turns (malformed ids repaired). Annotations (observations,
summaries) are not read here: they are labels, never input; the oracle extractor
(`evals/oracle.py`, an upper bound, labelled as such) is their only reader."""

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_EVIDENCE = re.compile(r"D:?(\d+):0*(\d+)")


@dataclass(frozen=True)
class Turn:
    dia_id: str
    speaker: str
    text: str
    caption: str | None

    @property
    def content(self) -> str:
        """The message as an assistant's transcript holds it: who spoke, what they said and,
        for a shared photo, its caption (the image itself is not part of the data)."""
        shared = f" [shares a photo: {self.caption}]" if self.caption else ""
        return f"{self.speaker}: {self.text}{shared}"


@dataclass(frozen=True)
class Session:
    number: int
    at: datetime
    turns: tuple[Turn, ...]


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Conversation:
    sample_id: str
    speakers: tuple[str, str]
    sessions: tuple[Session, ...]
    questions: tuple[Question, ...]
    dropped_evidence: int

    @property
    def turns(self) -> list[Turn]:
        return [turn for session in self.sessions for turn in session.turns]


def normalise_evidence(raw: Sequence[str], known: set[str]) -> tuple[tuple[str, ...], int]:
    """Evidence ids as `D<session>:<turn>`: splits "D8:6; D9:17", repairs "D:11:26" and
    "D30:05", and drops what names no turn of the conversation. Returns the ids and how many
    were dropped."""
    found: list[str] = []
    dropped = 0
    for entry in raw:
        parts = [p for p in re.split(r"[;,\s]+", str(entry)) if p]
        for part in parts or [""]:
            match = _EVIDENCE.fullmatch(part)
            dia_id = f"D{int(match[1])}:{int(match[2])}" if match else None
            if dia_id is None or dia_id not in known:
                dropped += 1
            elif dia_id not in found:
                found.append(dia_id)
    return tuple(found), dropped


def _session_time(value: str) -> datetime:
    return datetime.strptime(value, "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def load(path: Path) -> list[Conversation]:
    conversations = []
    for sample in json.loads(path.read_text()):
        conv = sample["conversation"]
        sessions = []
        number = 1
        while f"session_{number}_date_time" in conv:
            turns = conv.get(f"session_{number}") or []
            if turns:  # some samples date sessions that hold no turns
                sessions.append(
                    Session(
                        number,
                        _session_time(conv[f"session_{number}_date_time"]),
                        tuple(
                            Turn(t["dia_id"], t["speaker"], t["text"], t.get("blip_caption"))
                            for t in turns
                        ),
                    )
                )
            number += 1
        known = {turn.dia_id for session in sessions for turn in session.turns}
        questions = []
        dropped = 0
        for qa in sample["qa"]:
            evidence, lost = normalise_evidence(qa.get("evidence", []), known)
            dropped += lost
            if evidence:
                questions.append(Question(qa["question"], int(qa["category"]), evidence))
        conversations.append(
            Conversation(
                sample["sample_id"],
                (conv["speaker_a"], conv["speaker_b"]),
                tuple(sessions),
                tuple(questions),
                dropped,
            )
        )
    return conversations
