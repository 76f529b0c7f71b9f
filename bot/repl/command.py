"""`newsbot repl`: the command that starts a REPL session."""

from __future__ import annotations

import sys

import click

from bot.frontend import open_engine, reports_errors
from bot.repl.session import run_piped, run_terminal
from rag.limits import TOP_K


@click.command()
@click.option("-k", "--top-k", type=click.IntRange(*TOP_K), help="Passages to answer from (/k N).")
@click.option("--json", "as_json", is_flag=True, help="Start with raw JSON output (/json).")
@click.option(
    "--bidi",
    type=click.Choice(["terminal", "reorder"]),
    help="Who lays out Arabic: your terminal, or newsbot for terminals without bidi "
    "support (default: NEWSBOT_REPL_BIDI, else terminal).",
)
def repl(top_k: int | None, as_json: bool, bidi: str | None) -> None:
    """Ask question after question, with the index loaded once.

    Type a question in Arabic, French or English and press Enter. Answers cite their
    passages as [n]; /show N prints passage N in full with the cited text marked.
    /help lists the commands (/sources, /k N, /reset, /ingest PATH, /json, /quit).
    History is kept in NEWSBOT_STATE_DIR (default ~/.local/state/newsbot).

    When standard input is not a terminal, reads one question or command per line and
    prints plain answers, without colours, for scripts (exit code 1 if a line failed).

    \b
    Examples:
      newsbot repl
      NEWSBOT_REPL_BIDI=reorder newsbot repl     # inside tmux, or a terminal without bidi
      printf 'Who wants to buy TikTok?\\n/show 1\\n' | newsbot repl
    """
    reports_errors(_start)(top_k, as_json, bidi)


def _start(top_k: int | None, as_json: bool, bidi: str | None) -> None:
    from bot.repl.settings import ReplSettings  # here, like the engine: `--help` stays quick

    settings = ReplSettings.load()
    engine = open_engine()
    if sys.stdin.isatty():
        run_terminal(engine, top_k, as_json, bidi or settings.repl_bidi, settings.user_state_dir())
    else:
        sys.exit(run_piped(engine, top_k, as_json))
