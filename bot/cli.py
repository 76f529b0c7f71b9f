"""The `newsbot` command line."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rag.errors import BackendError, BadInputError, NewsbotError

if TYPE_CHECKING:
    from rag.engine import Engine
    from rag.index import ProgressCallback
    from rag.models import Answer, IngestReport

F = TypeVar("F", bound=Callable[..., Any])
PROGRESS_BAR_MIN_FILES = 50
PROGRESS_BAR_AFTER_SECONDS = 1.0


def fail(message: str, code: int = 1) -> None:
    click.echo("newsbot: error: " + " ".join(message.split()), err=True)
    sys.exit(code)


def reports_errors(command: F) -> F:
    """Turn newsbot's errors into one line on stderr and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except NewsbotError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("newsbot: interrupted", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:
            logging.getLogger("newsbot").debug("unexpected error", exc_info=True)
            fail(
                f"unexpected {type(exc).__name__}: {exc} "
                "(set NEWSBOT_LOG_LEVEL=DEBUG to log the trace)"
            )

    return wrapper  # type: ignore[return-value]


def open_engine() -> Engine:
    from rag.engine import Engine
    from rag.settings import load_settings, unknown_setting_warnings

    settings = load_settings()
    for warning in unknown_setting_warnings(os.environ):
        click.echo(f"newsbot: warning: {warning}", err=True)
    logging.basicConfig(
        level=settings.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return Engine(settings)


class _Progress:
    """A progress bar on stderr for long ingests; silent for short ones."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._stage = ""
        self._timed_stage = ""
        self._stage_started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._timed_stage:
            self._timed_stage, self._stage_started = stage, time.monotonic()
        # Embedding with the bundled model takes seconds even for a few dozen passages.
        slow = time.monotonic() - self._stage_started > PROGRESS_BAR_AFTER_SECONDS
        if total < PROGRESS_BAR_MIN_FILES and not slow:
            return
        if self._bar is None:
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.start()
        if stage != self._stage:
            label = {
                "read": "Reading articles",
                "embed": "Embedding passages",
                "delete": "Removing old passages",
            }.get(stage, stage)
            self._task = self._bar.add_task(label, total=total)
            self._stage = stage
        self._bar.update(self._task, completed=done)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def run_ingest(engine: Engine, paths: list[Path] | None, rebuild: bool) -> IngestReport:
    progress = _Progress()
    callback: ProgressCallback = progress
    try:
        report = engine.ingest(paths, rebuild=rebuild, progress=callback)
    finally:
        progress.close()
    for warning in report.skipped:
        click.echo(f"newsbot: warning: {warning}", err=True)
    return report


def ensure_index(engine: Engine) -> None:
    """Index the corpus on first use, saying so."""
    if engine.has_index():
        return
    corpus = engine.settings.corpus_dir
    click.echo(f"newsbot: indexing {corpus}/ for the first time…", err=True)
    report = run_ingest(engine, None, rebuild=False)
    click.echo(f"newsbot: indexed {report.summary()}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="newsbot")
def cli() -> None:
    """Ask questions about a news archive in Arabic, French and English.

    Every answer cites the passages it rests on, and says so when the articles
    don't cover the question. Settings come from NEWSBOT_* environment variables
    and a .env file (see .env.example).
    """


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.option("-k", "--top-k", type=click.IntRange(1, 50), help="Passages to answer from.")
@reports_errors
def ask(question: str, as_json: bool, top_k: int | None) -> None:
    """Answer QUESTION from the indexed articles.

    With QUESTION "-", read one question per line from standard input and answer
    each (with --json: JSON Lines out, one object per question; a bad line, or one
    the Chroma server failed to serve, gives an object with an "error" field and the
    run goes on; the exit code is 1 if any line failed). The first run indexes the
    corpus directory.

    \b
    Examples:
      newsbot ask "What did Microsoft promise about data storage?"
      newsbot ask --json "Pourquoi Amazon a-t-il interdit TikTok ?"
      cat questions.txt | newsbot ask --json -
    """
    if question != "-" and not question.strip():
        raise BadInputError(
            'the question is empty; ask something, e.g. newsbot ask "Who wants to buy TikTok?"'
        )
    engine = open_engine()
    ensure_index(engine)
    if question != "-":
        if as_json:
            answer = engine.ask(question, top_k=top_k)
            _echo_notices(answer)
            click.echo(answer.model_dump_json())
        else:
            _echo_notices(_stream_answer(engine, question, top_k))
        return
    failures = 0
    for number, line, problem in _stdin_lines():
        try:
            if problem:
                raise BadInputError(problem)
            if as_json:
                answer = engine.ask(line, top_k=top_k)
            else:
                _stream_answer(engine, line, top_k)
                click.echo("")
        except (BadInputError, BackendError) as exc:  # the next line may work again
            failures += 1
            _emit_error(as_json, number, line, str(exc))
            continue
        if as_json:
            click.echo(answer.model_dump_json())
        sys.stdout.flush()
    if failures:
        sys.exit(1)


def _echo_notices(answer: Answer) -> None:
    for notice in answer.notices:
        click.echo(f"newsbot: note: {notice}", err=True)


def _stream_answer(engine: Engine, question: str, top_k: int | None) -> Answer:
    """Print the answer for people: a generated one as the model writes it, then its sources."""
    from bot.render import render_after_stream, render_answer
    from rag.models import Answer

    streamed: list[str] = []
    answer: Answer | None = None
    for event in engine.ask_stream(question, top_k=top_k):
        if isinstance(event, Answer):
            answer = event
        else:
            streamed.append(event.text)
            click.echo(event.text, nl=False)
            sys.stdout.flush()
    assert answer is not None, "ask_stream always ends with the Answer"
    if streamed and "".join(streamed) == answer.answer:
        rest = render_after_stream(answer)
        click.echo("\n" + rest if rest else "")
    else:
        if streamed:
            # The model's text was dropped (it failed, or cited nothing): the answer follows.
            click.echo("\n")
        click.echo(render_answer(answer))
    return answer


def _emit_error(as_json: bool, number: int, line: str, message: str) -> None:
    if as_json:
        click.echo(
            json.dumps({"line": number, "question": line, "error": message}, ensure_ascii=False)
        )
    else:
        click.echo(f"newsbot: error: line {number}: {message}", err=True)


def _stdin_lines() -> Iterator[tuple[int, str, str | None]]:
    """Numbered lines of standard input, each with the reason it is unusable, if any."""
    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n"), None
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            yield number, text, f"the line is not UTF-8 text (invalid byte at offset {exc.start})"


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--rebuild", is_flag=True, help="Drop the index and build it again from PATHS.")
@reports_errors
def ingest(paths: tuple[Path, ...], rebuild: bool) -> None:
    """Index articles from PATHS (files or folders; default: the corpus directory).

    Reads .txt and .md files as UTF-8 (or UTF-16 with a BOM). Unchanged articles are
    left alone, changed ones are re-indexed, and articles whose files vanished from an
    ingested folder are dropped. Unreadable files, devices, pipes and files over 5 MB
    are skipped with a warning; a PATH that does not exist stops the ingest.
    """
    missing = [str(path) for path in paths if not os.path.lexists(path)]
    if missing:
        raise BadInputError(f"no such file or folder: {', '.join(missing)}; nothing was indexed")
    engine = open_engine()
    report = run_ingest(engine, list(paths) or None, rebuild)
    click.echo(report.summary())


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@reports_errors
def sources(as_json: bool) -> None:
    """List the indexed articles: file, language, passages and title."""
    from bot.render import render_articles

    engine = open_engine()
    articles = engine.articles()
    if as_json:
        click.echo(json.dumps([a.model_dump() for a in articles], ensure_ascii=False))
    else:
        click.echo(render_articles(articles))


from bot.eval_cli import eval_command  # noqa: E402  (it uses the helpers above)

cli.add_command(eval_command)

from bot.repl import repl  # noqa: E402

cli.add_command(repl)

from bot.telegram_cli import telegram_command  # noqa: E402  (registers after `cli` exists)

cli.add_command(telegram_command)


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


def main() -> None:
    limit_malloc_arenas()
    cli(prog_name="newsbot")
