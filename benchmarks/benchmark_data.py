"""The public benchmark sets, read from ../shared/benchmarks, and the pool built from them.

The pool is every paragraph of XQuAD-en, XQuAD-ar, ARCD and PIAF in one collection,
as a bot holding mixed-language news would; a question's gold is the paragraph it
was written on. Paragraphs are written out as article files, so newsbot indexes
them through its ordinary ingest.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_DIR = PROJECT_ROOT.parent / "shared" / "benchmarks"

SETS = {
    "XQuAD-en": "xquad/xquad.en.json",
    "XQuAD-ar": "xquad/xquad.ar.json",
    "ARCD": "arcd/arcd.json",
    "PIAF": "piaf/piaf-v1.0.json",
}
ARCD_TRAIN = "arcd/arcd-train.json"
SAUDINEWSNET = "saudinewsnet"
PIAF_REPORTED_QUESTIONS = 1500


@dataclass(frozen=True)
class Paragraph:
    source: str  # the article file name newsbot cites, e.g. "ARCD-0042.txt"
    text: str
    dataset: str
    article: int  # position of its Wikipedia article in the dataset file


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    gold: str  # source of the paragraph the question was written on
    dataset: str


@dataclass
class Benchmark:
    root: Path
    paragraphs: list[Paragraph]
    questions: dict[str, list[Question]]  # by dataset, in file order


def benchmarks_dir(root: Path = BENCHMARKS_DIR) -> Path:
    """The benchmark folder, or exit with a message saying what is missing."""
    where = "read from ../shared/benchmarks beside the project checkout, or --data DIR"
    if not root.is_dir():
        sys.exit(f"benchmarks: no benchmark folder at {root} (the public sets are {where})")
    missing = [name for name in [*SETS.values(), ARCD_TRAIN] if not (root / name).is_file()]
    if missing:
        sys.exit(f"benchmarks: {root} lacks {', '.join(missing)} (the public sets are {where})")
    return root


def load_benchmark(root: Path = BENCHMARKS_DIR) -> Benchmark:
    root = benchmarks_dir(root)
    paragraphs: list[Paragraph] = []
    questions: dict[str, list[Question]] = {}
    for dataset, relative in SETS.items():
        data = json.loads((root / relative).read_text(encoding="utf-8"))
        questions[dataset] = []
        number = 0
        for article, entry in enumerate(data["data"]):
            for paragraph in entry["paragraphs"]:
                source = f"{dataset}-{number:04d}.txt"
                number += 1
                paragraphs.append(Paragraph(source, paragraph["context"], dataset, article))
                for qa in paragraph["qas"]:
                    questions[dataset].append(
                        Question(str(qa["id"]), qa["question"].strip(), source, dataset)
                    )
    return Benchmark(root, paragraphs, questions)


def arcd_train_ids(root: Path) -> set[str]:
    data = json.loads((root / ARCD_TRAIN).read_text(encoding="utf-8"))
    return {
        str(qa["id"])
        for entry in data["data"]
        for paragraph in entry["paragraphs"]
        for qa in paragraph["qas"]
    }


def tuning_split(
    benchmark: Benchmark,
) -> tuple[dict[str, list[Question]], dict[str, list[Question]]]:
    """The questions tuned on (ARCD train, first half of PIAF) and the held-out rest of both."""
    train = arcd_train_ids(benchmark.root)
    arcd = benchmark.questions["ARCD"]
    piaf = benchmark.questions["PIAF"]
    half = len(piaf) // 2
    tuning = {
        "ARCD-train": [q for q in arcd if q.id in train],
        "PIAF-first-half": piaf[:half],
    }
    held_out = {
        "ARCD-test": [q for q in arcd if q.id not in train],
        "PIAF-second-half": piaf[half:],
    }
    return tuning, held_out


def reported_sets(benchmark: Benchmark) -> dict[str, list[Question]]:
    """The sets of the issue's table: all of XQuAD and ARCD, the first 1,500 PIAF questions."""
    sets = dict(benchmark.questions)
    sets["PIAF"] = sets["PIAF"][:PIAF_REPORTED_QUESTIONS]
    return sets


@dataclass(frozen=True)
class NewsArticle:
    source: str
    text: str  # title line, blank line, content


def saudinewsnet_articles(root: Path, limit: int | None = None) -> Iterator[NewsArticle]:
    """Non-empty SaudiNewsNet articles in file order (CC BY-NC-SA 4.0, research use only)."""
    folder = root / SAUDINEWSNET
    files = sorted(folder.glob("*.json"))
    if not files:
        sys.exit(f"benchmarks: no SaudiNewsNet JSON files in {folder}")
    count = 0
    for file in files:
        for position, entry in enumerate(json.loads(file.read_text(encoding="utf-8"))):
            content = (entry.get("content") or "").strip()
            if not content:
                continue
            if limit is not None and count >= limit:
                return
            title = (entry.get("title") or "").strip()
            yield NewsArticle(f"snn-{file.stem}-{position:04d}.txt", f"{title}\n\n{content}\n")
            count += 1


def write_articles(folder: Path, articles: Iterator[tuple[str, str]]) -> int:
    """Write (file name, text) pairs as UTF-8 article files; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, text in articles:
        (folder / name).write_text(text, encoding="utf-8")
        count += 1
    return count


def add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=BENCHMARKS_DIR,
        metavar="DIR",
        help=f"folder of the public benchmark sets (default: {BENCHMARKS_DIR})",
    )


def add_distractors_option(parser: argparse.ArgumentParser) -> None:
    def count(text: str) -> int:
        value = int(text)
        if value < 0:
            raise argparse.ArgumentTypeError("must be 0 or more")
        return value

    parser.add_argument(
        "--distractors",
        type=count,
        default=0,
        metavar="N",
        help="add the first N non-empty SaudiNewsNet articles (Arabic news) to the pool",
    )
