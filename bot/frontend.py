"""What every front end shares: opening the engine, first-run indexing, the error handler,
stdin lines, ingest progress, and the process set-up."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from rag.errors import NewsbotError

if TYPE_CHECKING:
    from rag.engine import Engine
    from rag.models import IngestReport, ProgressCallback
    from rag.settings import NewsbotSettings

F = TypeVar("F", bound=Callable[..., Any])
# The key under which bot.cli gives every command, in click's context, the front ends'
# settings classes: this module, below the front ends, cannot import them.
FRONT_END_SETTINGS = "newsbot.front_end_settings"
PROGRESS_BAR_MIN_FILES = 50
PROGRESS_BAR_AFTER_SECONDS = 1.0
# How long a first question waits for another process's first ingest, and how often it
# looks whether that one has published.
FIRST_INGEST_WAIT_SECONDS = 600.0
FIRST_INGEST_POLL_SECONDS = 0.5


def fail(message: str, code: int = 1) -> None:
    click.echo("newsbot: error: " + " ".join(message.split()), err=True)
    sys.exit(code)


def reports_errors(command: F) -> F:
    """Turn newsbot's errors into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            try:
                return command(*args, **kwargs)
            finally:
                sys.stdout.flush()  # here, where a reader gone away can be told apart
        except BrokenPipeError:
            reader_gone()
        except NewsbotError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("newsbot: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            fail(unexpected_error(exc))

    return wrapper  # type: ignore[return-value]


def reader_gone() -> NoReturn:
    """Standard output's reader went away (`newsbot … | head`): stop quietly, as Unix tools
    do, with the status a shell gives one that SIGPIPE stopped."""
    with contextlib.suppress(OSError):
        # Python flushes standard output again as it exits; it must not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(128 + signal.SIGPIPE)


def unexpected_error(exc: Exception) -> str:
    """The one line a front end shows for an error newsbot did not foresee; its trace goes to
    the debug log."""
    logging.getLogger("newsbot").debug("unexpected error", exc_info=exc)
    return f"unexpected {type(exc).__name__}: {exc} (set NEWSBOT_LOG_LEVEL=DEBUG to log the trace)"


def open_engine() -> Engine:
    """The engine over the core settings, after a warning for each NEWSBOT_* name that is
    none of newsbot's settings."""
    from rag.engine import Engine
    from rag.settings import Settings, unknown_setting_warnings

    settings = Settings.load()
    known: list[type[NewsbotSettings]] = [Settings, *front_end_settings()]
    for warning in unknown_setting_warnings(os.environ, known):
        click.echo(f"newsbot: warning: {warning}", err=True)
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return Engine(settings)


def say_warnings(engine: Engine) -> None:
    """The engine's warnings about its set-up, once, on stderr."""
    for warning in engine.warnings:
        click.echo(f"newsbot: warning: {warning}", err=True)


def front_end_settings() -> tuple[type[NewsbotSettings], ...]:
    """The front ends' settings classes, as bot.cli gave them to the running command."""
    context = click.get_current_context(silent=True)
    classes = context.meta.get(FRONT_END_SETTINGS) if context is not None else None
    return tuple(classes()) if classes is not None else ()


class ProgressBar:
    """A transient progress bar on stderr, one line per label (a stage of an ingest, the
    questions of an evaluation), each with an optional detail after its count; nothing is
    drawn until the first `show`."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._tasks: dict[str, Any] = {}

    def show(self, label: str, done: int, total: int, detail: str = "") -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
        if label not in self._tasks:
            self._tasks[label] = self._bar.add_task(label, total=total, detail=detail)
        self._bar.update(self._tasks[label], completed=done, total=total, detail=detail)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


INGEST_STAGES = {
    "read": "Reading articles",
    "embed": "Embedding passages",
    "delete": "Removing old passages",
}
# What each stage counts, for its rate.
STAGE_UNITS = {"read": "files", "embed": "passages", "delete": "passages"}
# A rate measured over less time than this says little (one batch, a warm-up).
MIN_RATE_SECONDS = 2.0


class StageRate:
    """How fast an ingest's stage goes, measured from its first report to the latest (so the
    model's loading before the first batch is left out), and the time left at that rate."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._stage = ""
        self._start = (0.0, 0)

    def __call__(self, stage: str, done: int, total: int) -> str:
        """ "5.1 passages/s · about 9 min left", or "" until there is a rate to tell."""
        now = self._clock()
        if stage != self._stage:
            self._stage, self._start = stage, (now, done)
        elapsed, moved = now - self._start[0], done - self._start[1]
        if elapsed < MIN_RATE_SECONDS or moved <= 0:
            return ""
        rate = moved / elapsed
        unit = STAGE_UNITS.get(stage, "items")
        shown = f"{rate:.1f}" if rate < 100 else f"{rate:,.0f}"
        if done >= total:
            return f"{shown} {unit}/s"
        return f"{shown} {unit}/s · about {duration((total - done) / rate)} left"


def duration(seconds: float) -> str:
    """ "40 s", "9 min", "1 h 20 min": a time left, as precise as it can be told."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


class IngestProgress:
    """An ingest's progress bar: shown for many files, or for a stage that is slow (embedding
    with the bundled model takes seconds even for a few dozen passages), with the stage's
    measured rate and the time left at it; silent otherwise. `announce`, if given, is said
    once the ingest has started reading."""

    def __init__(self, announce: str | None = None) -> None:
        self.bar = ProgressBar()
        self.rate = StageRate()
        self._timed_stage = ""
        self._stage_started = time.monotonic()
        self._announce = announce

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._announce:
            click.echo(self._announce, err=True)
            self._announce = None
        if stage != self._timed_stage:
            self._timed_stage, self._stage_started = stage, time.monotonic()
        detail = self.rate(stage, done, total)
        slow = time.monotonic() - self._stage_started > PROGRESS_BAR_AFTER_SECONDS
        if total >= PROGRESS_BAR_MIN_FILES or slow:
            self.bar.show(INGEST_STAGES.get(stage, stage), done, total, detail)


def run_ingest(
    engine: Engine,
    paths: list[Path] | None,
    rebuild: bool,
    *,
    forget_missing: bool = False,
    announce: str | None = None,
) -> IngestReport:
    progress = IngestProgress(announce)
    callback: ProgressCallback = progress
    try:
        report = engine.ingest(
            paths, rebuild=rebuild, forget_missing=forget_missing, progress=callback
        )
    finally:
        progress.bar.close()
    for warning in report.skipped:
        click.echo(f"newsbot: warning: {warning}", err=True)
    for notice in report.notices:
        click.echo(f"newsbot: note: {notice}", err=True)
    return report


def ensure_index(engine: Engine) -> None:
    """Index the corpus on first use, saying so. While another process does that first
    ingest, wait for it to publish (at most FIRST_INGEST_WAIT_SECONDS), saying so."""
    from rag.errors import IngestBusyError

    deadline: float | None = None
    while not engine.has_index():
        corpus = engine.settings.corpus_dir
        try:
            report = run_ingest(
                engine,
                None,
                rebuild=False,
                announce=f"newsbot: indexing {corpus}/ for the first time…",
            )
        except IngestBusyError:
            if deadline is None:
                deadline = time.monotonic() + FIRST_INGEST_WAIT_SECONDS
                click.echo(
                    f"newsbot: another process is indexing {corpus}/ for the first time; "
                    f"waiting for it to finish (at most {FIRST_INGEST_WAIT_SECONDS / 60:.0f} "
                    "minutes)…",
                    err=True,
                )
            elif time.monotonic() > deadline:
                raise
            time.sleep(FIRST_INGEST_POLL_SECONDS)
            continue
        click.echo(f"newsbot: indexed {report.summary()}", err=True)
        return


# glibc's mallopt parameter for the number of malloc arenas.
M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas, before any thread starts.

    glibc gives each thread that allocates concurrently an arena of its own (up to eight
    per core) and rarely returns their free memory: a bot that answers from worker threads
    while ingests publish new snapshots grew 12% in ten minutes that way
    (benchmarks/soak.py), and stays flat with two. False where it doesn't apply (not glibc).
    """
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def stdin_lines() -> Iterator[tuple[int, str, str | None]]:
    """Numbered lines of standard input, each with the reason it is unusable, if any."""
    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n"), None
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            yield number, text, f"the line is not UTF-8 text (invalid byte at offset {exc.start})"
