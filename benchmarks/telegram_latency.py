"""Reply latency of `newsbot telegram` with 20 chats asking at once, against the Bot API stand-in.

    uv run python benchmarks/telegram_latency.py [--rounds 10] [--chats 20]

Indexes seeds/ in a temporary data dir, starts the real `newsbot telegram` console script
(long polling, default settings: 4 engine threads, python-telegram-bot's AIORateLimiter)
against the stand-in from tests/standins on 127.0.0.1, then:
- single chat: 20 questions one after the other, each sent once the previous was answered;
- concurrent: `--rounds` rounds in which `--chats` chats each send a question at the same
  moment; the next round starts when all were answered.
A question's latency runs from the moment the stand-in queued the user's message to the
moment it received the bot's sendMessage with the answer. The questions are those of
seeds/questions.jsonl, in turn. A warm-up question is not counted. Prints a table and writes
it to benchmarks/telegram_latency.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import PROJECT_ROOT, header

sys.path.insert(0, str(PROJECT_ROOT / "tests"))
from standins.telegram_api import TelegramStandin

NEWSBOT = Path(sys.executable).with_name("newsbot")
START_TIMEOUT = 120.0
REPLY_TIMEOUT = 60.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def reply_times(api: TelegramStandin, chat_id: int) -> list[float]:
    """When the stand-in received each of the bot's answers (sendMessage) in this chat."""
    return [
        r.timestamp
        for r in api.requests("sendMessage")
        if r.ok and str(r.params.get("chat_id")) == str(chat_id)
    ]


def ask(api: TelegramStandin, chats: list[int], questions: list[str]) -> list[float]:
    """Every chat sends its question at once; the latency of each answer, in seconds."""
    counts = {chat: len(api.sent_messages(chat)) for chat in chats}
    sent_at = {}
    for chat, question in zip(chats, questions, strict=True):
        sent_at[chat] = time.time()
        api.send_user_message(chat, chat, question)
    for chat in chats:
        api.wait_for_messages(chat, counts[chat] + 1, REPLY_TIMEOUT)
    return [reply_times(api, chat)[counts[chat]] - sent_at[chat] for chat in chats]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="concurrent rounds (default 10)")
    parser.add_argument("--chats", type=int, default=20, help="chats per round (default 20)")
    options = parser.parse_args()

    questions = [
        json.loads(line)["question"]
        for line in (PROJECT_ROOT / "seeds" / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    load = os.getloadavg()[0]  # other work on the machine shows in the figures
    with tempfile.TemporaryDirectory() as tmp, TelegramStandin() as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        env.update(
            NEWSBOT_DATA_DIR=f"{tmp}/data",
            NEWSBOT_CORPUS_DIR=str(PROJECT_ROOT / "seeds"),
            NEWSBOT_TELEGRAM_TOKEN=api.token,
            NEWSBOT_TELEGRAM_BASE_URL=api.base_url,
            NEWSBOT_TELEGRAM_RATE_LIMIT="0",  # the benchmark asks more than a user would
            NEWSBOT_TELEGRAM_PUBLIC="true",  # no allowlist: the chats are made up
        )
        subprocess.run([str(NEWSBOT), "ingest"], env=env, check=True, capture_output=True)
        bot = subprocess.Popen(
            [str(NEWSBOT), "telegram"], env=env, cwd=tmp, stderr=subprocess.DEVNULL
        )
        try:
            api.send_user_message(1, 1, "warm-up: who wants to buy TikTok?")
            api.wait_for_messages(1, 1, START_TIMEOUT)
            turn = iter(questions * (1 + (20 + options.rounds * options.chats) // len(questions)))
            single = [ask(api, [2], [next(turn)])[0] for _ in range(20)]
            chats = [1000 + i for i in range(options.chats)]
            concurrent: list[float] = []
            for _ in range(options.rounds):
                concurrent += ask(api, chats, [next(turn) for _ in chats])
        finally:
            bot.terminate()
            bot.wait(30)

    def row(label: str, values: list[float]) -> str:
        p50, p95, top = (
            x * 1e3 for x in (percentile(values, 0.5), percentile(values, 0.95), max(values))
        )
        return f"| {label} | {p50:.0f} ms | {p95:.0f} ms | {top:.0f} ms | {len(values)} |"

    table = [
        "| scenario | p50 | p95 | max | answers |",
        "| --- | --- | --- | --- | --- |",
        row("1 chat, one question at a time", single),
        row(f"{options.chats} chats asking at once, {options.rounds} rounds", concurrent),
    ]
    report = header("newsbot telegram reply latency (stand-in on 127.0.0.1)")
    report += f"- load average (1 min) at start: {load:.1f}\n\n"
    report += "\n".join(table) + "\n"
    print(report)
    Path(__file__).with_name("telegram_latency.md").write_text(
        "# Telegram reply latency\n\n"
        f"Command: `uv run python benchmarks/telegram_latency.py --rounds {options.rounds} "
        f"--chats {options.chats}`\n\n" + report,
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
