"""The `newsbot` command line: the click group, and the commands it gathers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.commands import ask, ingest, sources
from bot.eval_command import eval_command
from bot.frontend import FRONT_END_SETTINGS, limit_malloc_arenas
from bot.repl.command import repl
from bot.telegram.command import telegram_command

if TYPE_CHECKING:
    from rag.settings import NewsbotSettings


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="newsbot")
@click.pass_context
def cli(context: click.Context) -> None:
    """Ask questions about a news archive in Arabic, French and English.

    Every answer cites the passages it rests on, and says so when the articles
    don't cover the question. Settings come from NEWSBOT_* environment variables
    and a .env file (see .env.example).
    """
    # Whichever command runs, a NEWSBOT_* name is checked against every front end's settings.
    context.meta[FRONT_END_SETTINGS] = _front_end_settings


def _front_end_settings() -> tuple[type[NewsbotSettings], ...]:
    # Imported when an engine is opened, not before: `newsbot COMMAND --help` stays quick.
    from bot.repl.settings import ReplSettings
    from bot.telegram.config import TelegramSettings

    return (TelegramSettings, ReplSettings)


for command in (ask, ingest, sources, eval_command, repl, telegram_command):
    cli.add_command(command)


def main() -> None:
    limit_malloc_arenas()
    cli(prog_name="newsbot")
