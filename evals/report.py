"""What every eval report is stamped with (versions, machine, settings) and where reports go:
`evals/reports/`, which is not committed."""

import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

REPORTS = Path(__file__).parent / "reports"


def reports_dir(chosen: Path | None = None) -> Path:
    path = chosen or REPORTS
    path.mkdir(parents=True, exist_ok=True)
    return path


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def machine_stamp(settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The versions, machine and settings a run's numbers belong to."""
    import torch

    return {
        "memstrata": _version("memstrata"),
        "commit": _commit(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "torch_threads": torch.get_num_threads(),
        "sentence_transformers": _version("sentence-transformers"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "settings": settings or {},
    }
