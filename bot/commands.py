"""`newsbot ask`, `newsbot ingest` and `newsbot sources`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.frontend import (
    ensure_index,
    open_engine,
    reports_errors,
    run_ingest,
    say_warnings,
    stdin_lines,
)
from rag.errors import BackendError, BadInputError
from rag.limits import TOP_K

if TYPE_CHECKING:
    from rag.reply import Reply

# Printed under a language model's streamed text when the answer does not use it.
WITHDRAWN = "(The language model's text above is withdrawn; the answer below replaces it.)"


@click.command()
@click.argument("question")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object per answer (with each citation's character offsets "
    "start/end, passage/passages and cited_opening).",
)
@click.option("-k", "--top-k", type=click.IntRange(*TOP_K), help="Passages to answer from.")
@reports_errors
def ask(question: str, as_json: bool, top_k: int | None) -> None:
    """Answer QUESTION from the indexed articles.

    The answer has [n] markers, and its sources are grouped by article (title, file,
    language), each cited passage labelled by its place in the article and the first
    words it is cited for ([2] passage 3 of 5 · "Microsoft will…").

    With QUESTION "-", read one question per line from standard input and answer
    each, loading the index once (with --json: JSON Lines out, one object per
    question; a bad line, or one the Chroma server failed to serve, gives an object
    with an "error" field and the run goes on; the exit code is 1 if any line
    failed). The first run indexes the corpus directory.

    \b
    Examples:
      newsbot ask "What did Microsoft promise about data storage?"
      newsbot ask --json "Pourquoi Amazon a-t-il interdit TikTok ?"
      cat questions.txt | newsbot ask --json -
    """
    engine = open_engine()
    say_warnings(engine)
    if question != "-":
        reply = engine.reply(question, top_k=top_k)  # a bad question fails before indexing
        ensure_index(engine)
        click.echo(reply.answer.model_dump_json() if as_json else _rendered(reply))
        return
    ensure_index(engine)
    failures = 0
    for number, line, problem in stdin_lines():
        try:
            if problem:
                raise BadInputError(problem)
            reply = engine.reply(line, top_k=top_k)
            click.echo(reply.answer.model_dump_json() if as_json else _rendered(reply) + "\n")
        except (BadInputError, BackendError) as exc:  # the next line may work again
            failures += 1
            _emit_error(as_json, number, line, str(exc))
            continue
        sys.stdout.flush()
    if failures:
        sys.exit(1)


def _rendered(reply: Reply) -> str:
    """The answer for people, after printing a generated one as the model writes it: the
    rest of it (its sources), or the whole answer when the model's text was dropped."""
    from bot.render import render_after_stream, render_answer
    from rag.safe_text import printable

    for piece in reply:
        click.echo(printable(piece), nl=False)
        sys.stdout.flush()
    if reply.streamed and reply.streamed == reply.answer.answer:
        rest = render_after_stream(reply.answer)
        return "\n" + rest if rest else ""
    if reply.streamed:
        # The model's text was dropped (it failed, or cited nothing): it stays above, so it
        # is marked as withdrawn before the answer that replaces it.
        return f"\n{WITHDRAWN}\n\n{render_answer(reply.answer)}"
    return render_answer(reply.answer)


def _emit_error(as_json: bool, number: int, line: str, message: str) -> None:
    if as_json:
        click.echo(
            json.dumps({"line": number, "question": line, "error": message}, ensure_ascii=False)
        )
    else:
        click.echo(f"newsbot: error: line {number}: {message}", err=True)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--rebuild",
    is_flag=True,
    help="Build the index again from PATHS (default: the paths it was built from); a "
    "remembered path that is gone stops it until you add --forget-missing.",
)
@click.option(
    "--forget-missing",
    is_flag=True,
    help="Without PATHS: drop the articles of ingested paths that are gone (a rebuild "
    "refuses to, without it).",
)
@reports_errors
def ingest(paths: tuple[Path, ...], rebuild: bool, forget_missing: bool) -> None:
    """Index articles from PATHS (files or folders; default: the paths indexed before, or
    the corpus directory for a new index).

    Reads .txt and .md files as UTF-8 (or UTF-16 with a BOM). Unchanged articles are
    left alone, changed ones are re-indexed, and articles whose files vanished from an
    ingested folder are dropped. Unreadable files and folders, devices, pipes, sockets,
    link loops and files over 5 MB are skipped with a warning naming them (a question
    set, *.jsonl, in an ingested folder is left out silently); a PATH that does not
    exist, or is neither a folder nor a regular file, stops the ingest (exit code 2).
    A long ingest shows each stage on stderr with its count, its measured rate
    (passages/s) and the time left at that rate.
    """
    missing = [str(path) for path in paths if not os.path.lexists(path)]
    if missing:
        raise BadInputError(f"no such file or folder: {', '.join(missing)}; nothing was indexed")
    if forget_missing and paths:
        raise BadInputError(
            "--forget-missing applies to the paths the index was built from; run it without PATHS"
        )
    engine = open_engine()
    report = run_ingest(engine, list(paths) or None, rebuild, forget_missing=forget_missing)
    click.echo(report.summary())


@click.command()
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
