"""`newsbot telegram` as a process: the real console script, real HTTP, real signals."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import SEEDS_DIR, cli_env, run_newsbot
from standins import conftest_helpers
from standins.telegram_api import TelegramStandin

from rag.engine import Engine

pytestmark = pytest.mark.slow

telegram_api = conftest_helpers.telegram_api

NEWSBOT = Path(sys.executable).with_name("newsbot")
START_TIMEOUT = 90.0  # importing the stack takes a few seconds; more on a busy machine
WAIT = 15.0
USER = 4242
QUESTION = "What did Microsoft promise about data storage?"


class BotProcess:
    """`newsbot telegram` in a subprocess, its stderr collected line by line as it comes."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            [str(NEWSBOT), "telegram"],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._lines: list[str] = []
        self._condition = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._condition:
                self._lines.append(line)
                self._condition.notify_all()
        with self._condition:
            self._lines.append("")  # end of output
            self._condition.notify_all()

    @property
    def stderr(self) -> str:
        with self._condition:
            return "".join(self._lines)

    def wait_for_line(self, text: str, timeout: float = START_TIMEOUT) -> str:
        def found() -> str | None:
            return next((line for line in self._lines if text in line), None)

        with self._condition:
            if not self._condition.wait_for(
                lambda: found() is not None or (self._lines and self._lines[-1] == ""), timeout
            ):
                raise AssertionError(f"no {text!r} on stderr after {timeout}s:\n{self.stderr}")
            line = found()
        if line is None:
            raise AssertionError(f"newsbot exited without printing {text!r}:\n{self.stderr}")
        return line

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)
            raise AssertionError(f"newsbot did not stop on SIGTERM:\n{self.stderr}") from None
        self._reader.join(timeout)
        return code


@pytest.fixture
def bot_env(tmp_path: Path, seeded_engine: Engine, telegram_api: TelegramStandin) -> dict[str, str]:
    """Environment for `newsbot telegram` against the stand-in, over an ingested index."""
    shutil.copytree(seeded_engine.settings.data_dir, tmp_path / "data")
    return cli_env(
        tmp_path,
        SEEDS_DIR,
        NEWSBOT_TELEGRAM_TOKEN=telegram_api.token,
        NEWSBOT_TELEGRAM_BASE_URL=telegram_api.base_url,
        NEWSBOT_TELEGRAM_PUBLIC="true",
        NEWSBOT_LOG_LEVEL="DEBUG",
    )


@pytest.fixture
def start_newsbot(tmp_path: Path) -> Iterator[Any]:
    started: list[BotProcess] = []

    def start(env: dict[str, str]) -> BotProcess:
        process = BotProcess(env, tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.process.poll() is None:
            process.process.kill()
            process.process.wait(WAIT)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
        assert secret.split(":", 1)[-1] not in text


def test_newsbot_telegram_answers_then_stops_cleanly_on_sigterm(
    telegram_api: TelegramStandin, bot_env: dict[str, str], start_newsbot: Any
) -> None:
    api = telegram_api
    bot = start_newsbot(bot_env)
    bot.wait_for_line("is answering questions about 5 articles (long polling)")
    api.send_user_message(USER, USER, QUESTION)
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    assert "[1]" in reply["text"] and reply["reply_markup"]["inline_keyboard"]
    data = reply["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    api.wait_for_callback_answer(api.press_button(USER, USER, reply["message_id"], data), WAIT)
    assert len(api.wait_for_messages(USER, 2, WAIT)) == 2
    api.wait_for_long_poll(WAIT)

    assert bot.stop() == 0
    stderr = bot.stderr
    assert stderr.rstrip().endswith("newsbot: telegram bot stopped")
    assert "DEBUG" in stderr and "sendMessage" in stderr  # verbose logs, and still no token
    assert_no_secret(stderr, api.token)
    assert api.pending_update_count == 0  # what was fetched was confirmed before exiting


def test_webhook_mode_takes_updates_posted_with_the_secret_token(
    telegram_api: TelegramStandin, bot_env: dict[str, str], start_newsbot: Any
) -> None:
    api = telegram_api
    with socket.socket() as probe:  # a free port for the bot's webhook server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret = "webhook_Secret-0123456789"
    url = "https://bot.example.org:8443/newsbot/hook"
    env = dict(
        bot_env,
        NEWSBOT_TELEGRAM_WEBHOOK_URL=url,
        NEWSBOT_TELEGRAM_WEBHOOK_LISTEN="127.0.0.1",
        NEWSBOT_TELEGRAM_WEBHOOK_PORT=str(port),
        NEWSBOT_TELEGRAM_WEBHOOK_SECRET=secret,
    )
    bot = start_newsbot(env)
    bot.wait_for_line(f"(webhook {url}, served on 127.0.0.1:{port})")
    assert api.webhook == {
        "url": url,
        "secret_token": secret,
        "allowed_updates": ["message", "callback_query"],
        "max_connections": 40,
    }

    # What Telegram would post: an update (the stand-in knows the chat, but holds the update).
    update = api.get_update(api.send_user_message(USER, USER, QUESTION))

    def post(token: str | None) -> int:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/newsbot/hook",
            data=json.dumps(update).encode(),
            headers={"Content-Type": "application/json"},
        )
        if token is not None:
            request.add_header("X-Telegram-Bot-Api-Secret-Token", token)
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert post("not-the-secret") == 403
    assert post(None) == 403
    assert post(secret) == 200
    [reply] = api.wait_for_messages(USER, 1, WAIT)
    assert "[1]" in reply["text"]
    assert api.requests("getUpdates") == []  # no polling in webhook mode

    assert bot.stop() == 0
    assert_no_secret(bot.stderr, api.token, secret)


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, "NEWSBOT_TELEGRAM_TOKEN is not set"),
        (
            {"NEWSBOT_TELEGRAM_TOKEN": "123456:tooShortSecret_xyz"},
            "NEWSBOT_TELEGRAM_TOKEN is malformed: expected <bot id>:<35 letters, digits, _ or ->",
        ),
        (
            {
                "NEWSBOT_TELEGRAM_TOKEN": "123456:" + "S" * 35,
                "NEWSBOT_TELEGRAM_WEBHOOK_URL": "http://bot.example.org/hook",
            },
            "invalid setting NEWSBOT_TELEGRAM_WEBHOOK_URL: Value error, must be an https:// URL",
        ),
        (
            {"NEWSBOT_TELEGRAM_TOKEN": "123456:" + "S" * 35},
            "NEWSBOT_TELEGRAM_ALLOWED_USERS and NEWSBOT_TELEGRAM_ALLOWED_CHATS are both empty: "
            "list who may use the bot, or set NEWSBOT_TELEGRAM_PUBLIC=true",
        ),
        (
            {
                "NEWSBOT_TELEGRAM_TOKEN": "123456:" + "S" * 35,
                "NEWSBOT_TELEGRAM_ALLOWED_CHATS": "-100777",
                "NEWSBOT_TELEGRAM_PUBLIC": "true",
            },
            "NEWSBOT_TELEGRAM_PUBLIC=true lets anyone on Telegram use the bot, but ",
        ),
    ],
)
def test_bad_configuration_is_one_line_and_exit_code_2(
    tmp_path: Path, variables: dict[str, str], expected: str
) -> None:
    result = run_newsbot("telegram", env=cli_env(tmp_path, **variables), timeout=60)
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert stderr.startswith(f"newsbot: error: {expected}") and stderr.count("\n") == 1
    token = variables.get("NEWSBOT_TELEGRAM_TOKEN")
    if token:
        assert_no_secret(stderr, token)
    assert not (tmp_path / "data").exists()  # nothing was started


def test_the_cli_lists_the_command_without_importing_python_telegram_bot(tmp_path: Path) -> None:
    result = run_newsbot("--help", env=cli_env(tmp_path))
    assert "telegram  Serve the Telegram bot" in result.stdout.decode()
    help_text = run_newsbot("telegram", "--help", env=cli_env(tmp_path)).stdout.decode()
    help_text = " ".join(help_text.split())
    assert "NEWSBOT_TELEGRAM_TOKEN" in help_text and "answers /ask QUESTION" in help_text
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, bot.cli; print('telegram' in sys.modules)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert imported.stdout.strip() == "False"  # `newsbot --help` stays fast
