"""Soak: the Telegram bot under steady load for minutes while new articles are ingested.

    uv run python benchmarks/soak.py [--seconds 600] [--chats 20] [--ingest-every 60]

The real `newsbot telegram` runs in its own process (default settings, the bundled model,
no rate limit, declared public) and talks over HTTP to the Bot API stand-in
(tests/standins) in this one. 20 chats each send their next question (from
seeds/questions.jsonl) once the previous one was answered. Every minute a separate
`newsbot ingest` process adds new articles to the corpus the bot answers from
(SaudiNewsNet articles from ../shared/benchmarks when present, else made-up ones), as an
operator would while the bot serves. Reports answers, errors (replies that say an error,
lines the bot logs at ERROR, failed ingests), lost updates (questions with no reply within
a minute), and the bot process's resident memory after warm-up and at the end. Records a
section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from benchmark_data import BENCHMARKS_DIR, saudinewsnet_articles
from evaluation import machine_description, markdown_table, record
from load import DRAIN_SECONDS, Run, load_questions
from retrieval import RESULTS

from tests.conftest import SEEDS_DIR
from tests.standins.telegram_api import TelegramStandin

NEWSBOT = Path(sys.executable).with_name("newsbot")
WARM_UP_SECONDS = 30.0
ARTICLES_PER_INGEST = 3


def rss_mb(pid: int) -> float:
    """A process's resident memory now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def new_articles() -> Iterator[tuple[str, str]]:
    """Article files to add, by name and text, as many as asked for."""
    try:
        for article in saudinewsnet_articles(BENCHMARKS_DIR):
            yield article.source, article.text
    except SystemExit:
        pass
    number = 0
    while True:
        number += 1
        yield (
            f"soak-{number:05d}.txt",
            f"Council meeting {number}\n\nThe city council met for the {number}th time and "
            f"approved budget line {number} after a long debate about parks and roads.",
        )


class Ingester(threading.Thread):
    """Adds articles and runs `newsbot ingest` in a child process every `every` seconds."""

    def __init__(self, corpus: Path, env: dict[str, str], every: float, stop: threading.Event):
        super().__init__(name="soak-ingest", daemon=True)
        self.corpus, self.env, self.every, self.stop_event = corpus, env, every, stop
        self.runs = 0
        self.failures: list[str] = []
        self.seconds: list[float] = []
        self._articles = new_articles()

    def run(self) -> None:
        while not self.stop_event.wait(self.every):
            for _ in range(ARTICLES_PER_INGEST):
                name, text = next(self._articles)
                (self.corpus / name).write_text(text, encoding="utf-8")
            started = time.perf_counter()
            result = subprocess.run(
                [str(NEWSBOT), "ingest", str(self.corpus)],
                env=self.env,
                capture_output=True,
                text=True,
            )
            self.seconds.append(time.perf_counter() - started)
            self.runs += 1
            if result.returncode != 0:
                self.failures.append(result.stderr.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=600.0, help="soak time (default 600)")
    parser.add_argument("--chats", type=int, default=20, help="concurrent chats (default 20)")
    parser.add_argument("--ingest-every", type=float, default=60.0, help="seconds (default 60)")
    options = parser.parse_args()

    described = machine_description()  # the load before the run
    questions = load_questions()
    with tempfile.TemporaryDirectory(prefix="newsbot-soak-") as temporary:
        root = Path(temporary)
        corpus = root / "articles"
        corpus.mkdir()
        for seed in SEEDS_DIR.glob("*.txt"):
            (corpus / seed.name).write_bytes(seed.read_bytes())
        run = Run("embedded", "telegram soak", options.chats)
        stop = threading.Event()
        memory: dict[str, float] = {}
        samples: list[float] = []  # the bot's RSS each minute after warm-up
        with TelegramStandin() as api:
            env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
            env.update(
                NEWSBOT_DATA_DIR=str(root / "data"),
                NEWSBOT_CORPUS_DIR=str(corpus),
                NEWSBOT_TELEGRAM_TOKEN=api.token,
                NEWSBOT_TELEGRAM_BASE_URL=api.base_url,
                NEWSBOT_TELEGRAM_RATE_LIMIT="0",  # the chats ask more than a user would
                NEWSBOT_TELEGRAM_PUBLIC="true",  # no allowlist: the chats are made up
            )
            subprocess.run([str(NEWSBOT), "ingest"], env=env, check=True, capture_output=True)
            ingester = Ingester(corpus, env, options.ingest_every, stop)
            log = (root / "bot.log").open("w+", encoding="utf-8")
            bot = subprocess.Popen(
                [str(NEWSBOT), "telegram"], env=env, cwd=root, stdout=log, stderr=log
            )
            try:
                api.send_user_message(999, 999, "warm-up: who wants to buy TikTok?")
                api.wait_for_messages(999, 1, DRAIN_SECONDS)
                started = time.perf_counter()
                deadline = started + options.seconds
                lock = threading.Lock()
                sent = 0
                extra: dict[int, int] = {}

                def chat(chat_id: int) -> None:
                    nonlocal sent
                    number, asked = chat_id, 0
                    while time.perf_counter() < deadline:
                        asked_at = time.perf_counter()
                        api.send_user_message(chat_id, chat_id, questions[number % len(questions)])
                        asked += 1
                        with lock:
                            sent += 1
                        try:
                            replies = api.wait_for_messages(chat_id, asked, timeout=DRAIN_SECONDS)
                        except AssertionError:
                            with lock:
                                run.lost += 1
                            return
                        text = replies[asked - 1].get("text", "")
                        with lock:
                            run.latencies.append(time.perf_counter() - asked_at)
                            run.errors += text.startswith("error:") or "went wrong" in text
                        number += options.chats
                    extra[chat_id] = len(api.sent_messages(chat_id)) - asked

                def watch_memory() -> None:
                    if not stop.wait(WARM_UP_SECONDS):
                        memory["after warm-up"] = rss_mb(bot.pid)
                    while not stop.wait(60.0):
                        samples.append(rss_mb(bot.pid))

                threads = [
                    threading.Thread(target=chat, args=(n + 1,)) for n in range(options.chats)
                ]
                watcher = threading.Thread(target=watch_memory, daemon=True)
                ingester.start()
                watcher.start()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                run.seconds = time.perf_counter() - started
                memory["at the end"] = rss_mb(bot.pid)
                stop.set()
                ingester.join()
            finally:
                bot.terminate()
                bot.wait(30)
            log.seek(0)
            logged_errors = [line for line in log if " ERROR " in line or "Traceback" in line]
            run.errors += len(logged_errors) + len(ingester.failures)
        articles_at_end = len(list(corpus.glob("*.txt")))

    start_mb = memory.get("after warm-up", float("nan"))
    end_mb = memory["at the end"]
    growth = (end_mb - start_mb) / start_mb * 100
    latencies = sorted(run.latencies)
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    p95 = latencies[int(len(latencies) * 0.95)] * 1000 if latencies else float("nan")
    rows = [
        ["soak time", f"{run.seconds:.0f} s"],
        ["chats", str(options.chats)],
        ["questions sent", f"{sent:,}"],
        ["answers", f"{len(run.latencies):,} ({len(run.latencies) / run.seconds:.1f}/s)"],
        ["answer latency p50 / p95", f"{p50:.0f} / {p95:.0f} ms"],
        ["lost updates (no reply within a minute)", str(run.lost)],
        ["messages beyond one per question", str(sum(extra.values()))],
        ["errors (error replies, errors the bot logged, failed ingests)", str(run.errors)],
        [
            "ingests during the soak (each adds 3 articles)",
            f"{ingester.runs}, {sum(ingester.seconds) / max(1, ingester.runs):.1f} s each",
        ],
        ["articles in the corpus at the end", str(articles_at_end)],
        [f"bot process RSS after {WARM_UP_SECONDS:.0f} s of warm-up", f"{start_mb:.0f} MB"],
        ["bot process RSS at the end", f"{end_mb:.0f} MB ({growth:+.1f}%)"],
        ["bot process RSS each minute (MB)", ", ".join(f"{mb:.0f}" for mb in samples)],
    ]
    for failure in ingester.failures[:3]:
        rows.append(["an ingest failed", failure])
    command = "uv run python benchmarks/soak.py" + (
        f" --seconds {options.seconds:g}" if options.seconds != 600 else ""
    )
    text = "\n".join(
        [
            "## Soak: 20 Telegram chats while new articles are ingested",
            "",
            f"`{command}` — {described}.",
            "",
            "`newsbot telegram` in its own process against the Bot API stand-in, default "
            "settings (the bundled model) without the rate limit; each chat asks its next "
            "question once answered; every minute a `newsbot ingest` process adds 3 articles. "
            "Targets: 0 lost updates, 0 errors, memory growth at most 10%.",
            "",
            markdown_table(["measure", "value"], rows),
            "",
        ]
    )
    print(text)
    record(RESULTS, "soak", text)


if __name__ == "__main__":
    main()
