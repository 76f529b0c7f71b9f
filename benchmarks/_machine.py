"""What every benchmark records next to its figures: date, machine, commit."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError):
        return None


def machine_line() -> str:
    memory = memory_gib()
    shown = f", {memory:.0f} GiB RAM" if memory else ""
    return (
        f"{os.cpu_count()} × {cpu_name()}{shown}, "
        f"Python {platform.python_version()}, {platform.system()}"
    )


def _git(*args: str) -> str:
    result = subprocess.run(
        ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def commit() -> str:
    """The checked-out commit, and whether tracked files differ from it."""
    try:
        head = _git("rev-parse", "--short", "HEAD")
        # Markdown (results, README) is what the benchmarks write or explain, not what they run.
        dirty = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!*.md")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def header(title: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"## {title}\n\n- date: {now}\n- machine: {machine_line()}\n- commit: {commit()}\n"
