"""The front ends' shared plumbing (bot/frontend.py)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from bot.frontend import IngestProgress, StageRate, duration, limit_malloc_arenas


def test_malloc_arenas_are_capped_where_glibc_allows() -> None:
    capped = limit_malloc_arenas()
    assert capped == (sys.platform == "linux" and platform.libc_ver()[0] == "glibc")


def test_a_command_help_loads_no_settings() -> None:
    """The front ends' settings classes are handed to the command lazily: its --help stays
    quick, while opening the engine still checks names against them (tests/bot/test_cli.py)."""
    code = (
        "import sys; from bot.cli import cli; "
        "cli(['ask', '--help'], prog_name='newsbot', standalone_mode=False); "
        "print(sorted(m for m in sys.modules if m.endswith(('settings', 'config'))))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage: newsbot ask" in shown
    assert shown.rstrip().endswith("[]"), shown


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_stage_rate_is_measured_from_its_first_report() -> None:
    clock = Clock()
    rate = StageRate(clock)
    assert rate("embed", 32, 2900) == ""  # the first batch, after the model loaded
    clock.now += 1.0
    assert rate("embed", 64, 2900) == "", "too short a time to tell"
    clock.now += 9.0  # 10 s for 288 passages since the first report
    assert rate("embed", 320, 2900) == "28.8 passages/s · about 1 min left"
    clock.now += 500.0
    assert rate("embed", 2900, 2900) == "5.6 passages/s"


def test_a_new_stage_starts_its_own_rate() -> None:
    clock = Clock()
    rate = StageRate(clock)
    rate("read", 0, 10_000)
    clock.now += 4.0
    assert rate("read", 2_000, 10_000) == "500 files/s · about 16 s left"
    assert rate("embed", 0, 50_000) == ""
    clock.now += 10.0
    assert rate("embed", 50, 50_000) == "5.0 passages/s · about 2 h 46 min left"


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (0.2, "1 s"),
        (40, "40 s"),
        (89, "1 min"),
        (540, "9 min"),
        (3600, "1 h"),
        (4800, "1 h 20 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float, said: str) -> None:
    assert duration(seconds) == said


def test_the_ingest_bar_carries_the_rate() -> None:
    clock = Clock()
    progress = IngestProgress()
    progress.rate = StageRate(clock)
    progress("embed", 100, 1000)  # 100 files or more: the bar is shown
    clock.now += 5.0
    progress("embed", 200, 1000)
    try:
        [task] = progress.bar._bar.tasks
        assert task.description == "Embedding passages" and task.completed == 200
        assert task.fields["detail"] == "20.0 passages/s · about 40 s left"
    finally:
        progress.bar.close()
