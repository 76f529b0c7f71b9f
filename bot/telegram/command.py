"""`newsbot telegram`: the command that serves the Telegram bot (bot/telegram/runtime.py)."""

from __future__ import annotations

import click


@click.command("telegram")
def telegram_command() -> None:
    """Serve the Telegram bot until Ctrl+C or SIGTERM.

    In a private chat every text is a question; in a group the bot answers
    /ask QUESTION, a message that mentions it, or a reply to one of its messages.
    Answers cite their sources, with a button per cited passage. /start and /help
    greet in the user's language, /sources lists the articles a page at a time,
    /reset forgets the chat's conversation.

    Needs NEWSBOT_TELEGRAM_TOKEN (from @BotFather), and NEWSBOT_TELEGRAM_ALLOWED_USERS
    or NEWSBOT_TELEGRAM_ALLOWED_CHATS to say who may use the bot (or
    NEWSBOT_TELEGRAM_PUBLIC=true: anyone). Polls Telegram for updates unless
    NEWSBOT_TELEGRAM_WEBHOOK_URL is set. The first run indexes the corpus directory.
    See the README's Telegram section.
    """
    # Imported here: python-telegram-bot takes seconds to import, and `newsbot --help` must not.
    from bot.frontend import reports_errors
    from bot.telegram.runtime import main

    reports_errors(main)()
