"""Load: answers per second and latency under concurrency, embedded store vs `chroma run`.

    uv run python benchmarks/load.py [--seconds 15] [--threads 1,16,50] [--chats 50]

For each store (the embedded Chroma in a temporary data dir, then a `chroma run` server on
127.0.0.1 started for the run), indexes seeds/ and then, for a bounded time each:
- engine: N threads call Engine.reply in a closed loop on the questions of
  seeds/questions.jsonl;
- telegram: N chats talk to a python-telegram-bot Application over HTTP through the Bot
  API stand-in (tests/standins), each sending its next question once the previous one was
  answered. The Application is newsbot's Telegram front end (`bot.telegram`
  build_application, default settings: its rate limiter and per-chat ordering) when it exists;
  otherwise a reference handler (concurrent updates, Engine.reply in a worker thread, the
  answer as plain text), and the table says so. A last run with a handler that echoes
  the question shows what the chats, PTB and the stand-in cost without the engine.
Reports answers/s, p50/p95/p99 latency, errors, and lost updates (questions that never
got a reply). Prints a table and writes it to benchmarks/load.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import PROJECT_ROOT, header

sys.path.insert(0, str(PROJECT_ROOT))
from pydantic import SecretStr

from rag.engine import Engine
from rag.settings import Settings
from tests.chroma_server import ChromaServer
from tests.standins.telegram_api import TelegramStandin

DRAIN_SECONDS = 60.0


@dataclass
class Run:
    store: str
    driver: str
    concurrency: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    lost: int = 0
    note: str = ""

    def row(self) -> str:
        def ms(q: float) -> str:
            if not self.latencies:
                return "–"
            ordered = sorted(self.latencies)
            return f"{1000 * ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]:.0f}"

        rate = len(self.latencies) / self.seconds if self.seconds else 0.0
        return (
            f"| {self.store} | {self.driver}{self.note} | {self.concurrency} | "
            f"{len(self.latencies)} | {rate:.1f} | {ms(0.5)} | {ms(0.95)} | {ms(0.99)} | "
            f"{self.errors} | {self.lost} |"
        )


def load_questions() -> list[str]:
    path = PROJECT_ROOT / "seeds" / "questions.jsonl"
    return [json.loads(line)["question"] for line in path.read_text().splitlines() if line]


@contextmanager
def store_settings(store: str, root: Path) -> Iterator[Settings]:
    corpus = PROJECT_ROOT / "seeds"
    if store == "embedded":
        yield Settings(data_dir=root / "embedded", corpus_dir=corpus)
        return
    with ChromaServer(root / "chroma-server") as server:
        yield Settings(data_dir=root / "server-client", corpus_dir=corpus, chroma_url=server.url)


def run_concurrently(run: Run, work: Callable[[int], None]) -> None:
    """Run `work(0)` … `work(concurrency - 1)` in threads; time them all."""
    threads = [threading.Thread(target=work, args=(n,)) for n in range(run.concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.seconds = time.perf_counter() - started


def drive_engine(engine: Engine, run: Run, questions: list[str], seconds: float) -> None:
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker(offset: int) -> None:
        number = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                _ = engine.reply(questions[number % len(questions)]).answer
            except Exception:
                with lock:
                    run.errors += 1
            else:
                with lock:
                    run.latencies.append(time.perf_counter() - started)
            number += run.concurrency

    run_concurrently(run, worker)


def reference_application(answer: Callable[[str], str], api: TelegramStandin) -> Any:
    """What a Telegram front end minimally does: answer each text in a worker thread."""
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None and update.effective_message.text
        try:
            text = await asyncio.to_thread(answer, update.effective_message.text)
        except Exception as exc:
            text = f"error: {exc}"
        await update.effective_message.reply_text(text[:4000])

    application = (
        Application.builder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, reply))
    return application


def telegram_application(engine: Engine | None, api: TelegramStandin) -> tuple[Any, str]:
    """newsbot's Telegram front end (bot.telegram) talking to the stand-in, if this checkout
    has it, else the reference handler; with no engine, a handler that echoes the question
    (the harness's own ceiling)."""
    if engine is None:
        return reference_application(lambda text: text, api), " echo, no engine"
    try:
        from bot.telegram import runtime as front_end  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        application = reference_application(lambda text: engine.reply(text).answer.answer, api)
        return application, " (reference handler: no bot.telegram)"
    # The per-user rate limit would answer a fast chat's 11th question of the minute with
    # "retry later" and then stay silent, which this harness would count as lost.
    from bot.telegram.config import TelegramConfig, TelegramSettings

    settings = TelegramSettings(
        telegram_token=SecretStr(api.token),
        telegram_base_url=api.base_url,
        telegram_rate_limit=0,
        telegram_public=True,  # no allowlist: the chats are made up
    )
    config = TelegramConfig.from_settings(settings)
    return front_end.build_application(config, engine), " (bot.telegram)"


def drive_telegram(engine: Engine | None, run: Run, questions: list[str], seconds: float) -> None:
    from tests.standins.conftest_helpers import ApplicationThread

    with TelegramStandin() as api:
        application, run.note = telegram_application(engine, api)
        with ApplicationThread(application, poll_timeout=1) as runner:
            deadline = time.perf_counter() + seconds
            lock = threading.Lock()
            sent = 0

            def chat(chat_id: int) -> None:
                nonlocal sent
                number = chat_id
                replies = 0
                while time.perf_counter() < deadline:
                    started = time.perf_counter()
                    api.send_user_message(chat_id, chat_id, questions[number % len(questions)])
                    with lock:
                        sent += 1
                    try:
                        api.wait_for_messages(chat_id, replies + 1, timeout=DRAIN_SECONDS)
                    except AssertionError:
                        with lock:
                            run.lost += 1
                        return
                    replies = len(api.sent_messages(chat_id))
                    text = api.sent_messages(chat_id)[-1].get("text", "")
                    with lock:
                        run.latencies.append(time.perf_counter() - started)
                        run.errors += text.startswith("error:")
                    number += run.concurrency

            run_concurrently(run, lambda n: chat(n + 1))
            run.errors += len(runner.errors)
            assert sent == len(run.latencies) + run.lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="per run (default 15)")
    parser.add_argument("--threads", default="1,16,50", help="engine threads (default 1,16,50)")
    parser.add_argument("--chats", type=int, default=50, help="Telegram chats (default 50)")
    parser.add_argument("--stores", default="embedded,server", help="embedded,server")
    options = parser.parse_args()

    questions = load_questions()
    load_before = os.getloadavg()[0]
    runs: list[Run] = []
    drivers: list[tuple[str, list[int], Callable[[Engine, Run, list[str], float], None]]] = [
        ("engine", [int(n) for n in options.threads.split(",")], drive_engine),
        ("telegram", [options.chats] if options.chats else [], drive_telegram),
    ]
    for store in options.stores.split(","):
        with tempfile.TemporaryDirectory() as tmp, store_settings(store, Path(tmp)) as settings:
            engine = Engine(settings)
            engine.ingest()
            for question in questions[:5]:  # load the indexes before timing
                _ = engine.reply(question).answer
            for driver, levels, drive in drivers:
                for level in levels:
                    run = Run(store, driver, level)
                    drive(engine, run, questions, options.seconds)
                    runs.append(run)
                    print(run.row(), flush=True)
    if options.chats:
        baseline = Run("–", "telegram", options.chats)
        drive_telegram(None, baseline, questions, options.seconds)
        runs.append(baseline)
        print(baseline.row(), flush=True)

    table = [
        "| store | driver | concurrency | answers | answers/s | p50 ms | p95 ms | p99 ms "
        "| errors | lost |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *(run.row() for run in runs),
    ]
    report = (
        header("newsbot load")
        + f"- {options.seconds:g} s per run; questions: seeds/questions.jsonl "
        + f"({len(questions)}), asked in a closed loop\n"
        + f"- load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}"
        + f" on {os.cpu_count()} CPUs (above that, other work competed for them)\n\n"
        + "\n".join(table)
        + "\n"
    )
    print(report)
    Path(__file__).with_name("load.md").write_text(
        "# Load\n\nCommand: `uv run python benchmarks/load.py`\n\n" + report, encoding="utf-8"
    )


if __name__ == "__main__":
    main()
