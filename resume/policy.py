"""The resumption policy, pure: by the time since the user's last session, continue it as
it was (`full_restore`), start a new session primed with what the last one left
(`primed`), or start fresh. The plan says why."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from memory.core.settings import ResumptionSettings


class Mode(StrEnum):
    FULL_RESTORE = "full_restore"
    PRIMED = "primed"
    FRESH = "fresh"


@dataclass(frozen=True)
class LastSession:
    session_id: uuid.UUID
    last_active_at: datetime
    status: str
    device_id: str | None = None


@dataclass(frozen=True)
class Plan:
    mode: Mode
    reason: str
    gap_s: float | None
    full_restore_max_gap_s: int
    primed_max_gap_s: int
    session_status: str | None


def plan(last: LastSession | None, now: datetime, policy: ResumptionSettings) -> Plan:
    """Choose how a returning user's conversation resumes."""

    def decided(mode: Mode, reason: str, gap_s: float | None = None) -> Plan:
        return Plan(
            mode,
            reason,
            gap_s,
            policy.full_restore_max_gap_s,
            policy.primed_max_gap_s,
            last.status if last else None,
        )

    if last is None:
        return decided(Mode.FRESH, "no earlier session")
    gap_s = max((now - last.last_active_at).total_seconds(), 0.0)
    # Only a session that can still take messages can be continued as it was.
    if gap_s < policy.full_restore_max_gap_s and last.status in ("active", "soft_expired"):
        return decided(
            Mode.FULL_RESTORE,
            f"gap {gap_s:.0f} s is under the restore window {policy.full_restore_max_gap_s} s",
            gap_s,
        )
    if gap_s < policy.primed_max_gap_s:
        why = (
            f"the last session has ended ({last.status})"
            if gap_s < policy.full_restore_max_gap_s
            else f"gap {gap_s:.0f} s is past the restore window"
        )
        return decided(
            Mode.PRIMED,
            f"{why}; under the fresh-start threshold {policy.primed_max_gap_s} s",
            gap_s,
        )
    return decided(
        Mode.FRESH,
        f"gap {gap_s:.0f} s is past the fresh-start threshold {policy.primed_max_gap_s} s",
        gap_s,
    )
