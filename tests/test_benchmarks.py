"""The benchmark scripts say clearly when the public sets are missing (as in a fresh clone)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rag.engine import Engine
from rag.retrieval.hybrid import RetrieverConfig
from tests.conftest import PROJECT_ROOT, make_settings


@pytest.mark.parametrize(
    "script",
    [
        "retrieval.py",
        "misses.py",
        "scale.py",
        "server_scale.py",
        "answer_latency.py",
        "tune.py",
        "ingest_speed.py",
        "make_fixture.py",
    ],
)
def test_missing_benchmark_folder_is_one_clear_line(script: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / script), "--data", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"benchmarks: no benchmark folder at {tmp_path / 'x'} (the public sets are read from "
        "../shared/benchmarks beside the project checkout, or --data DIR)"
    ]


def test_incomplete_benchmark_folder_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "xquad").mkdir()
    (tmp_path / "xquad" / "xquad.en.json").write_text("{}", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT_ROOT / "benchmarks" / "retrieval.py"),
            "--data",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "lacks xquad/xquad.ar.json, arcd/arcd.json" in result.stderr
    assert "xquad/xquad.en.json," not in result.stderr


def _fault_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "faults", PROJECT_ROOT / "benchmarks" / "faults.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # for its dataclasses
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.parametrize(
    "scenario",
    [
        "corrupted SQLite: Chroma panics as it opens the store",
        "symlink ring (l1.txt ↔ l2.txt) in an ingested folder",
        "an ingested folder moved away, then `ingest --rebuild`",
    ],
)
def test_the_fault_benchmark_plays_its_cases(tmp_path: Path, scenario: str) -> None:
    faults = _fault_benchmark()
    outcome = dict(faults.SCENARIOS)[scenario](faults.Sandbox(tmp_path))
    assert outcome.passed, outcome.observed


def test_the_reciprocal_rank_reference_fuses_ranks_not_scores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # benchmarks/tune.py's reference fusion: each ranking votes weight / (60 + rank).
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    from reciprocal_rank import ReciprocalRankRetriever

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "apart.txt").write_text(
        "Harbour news\nThe ferry left early. Later a storm closed the harbour.", encoding="utf-8"
    )
    (corpus / "together.txt").write_text(
        "Coast news\nThe ferry was stopped by a storm near the harbour.", encoding="utf-8"
    )
    (corpus / "other.txt").write_text("Farm news\nThe harvest was early.", encoding="utf-8")
    engine = Engine(make_settings(tmp_path, corpus, vector_weight=0.0))
    engine.ingest()
    config = RetrieverConfig(
        candidates=10, lexical_weight=1.0, subword_weight=1.0, vector_weight=0.0
    )
    engine.retriever = ReciprocalRankRetriever(engine.index, config)
    passages = engine.search("Which ferry was stopped by a storm at the harbour?")
    assert [p.source for p in passages[:2]] == ["together.txt", "apart.txt"]
    # First in both rankings: two votes of 1 / 61.
    assert passages[0].score == pytest.approx(2 / 61)


def test_an_xquad_paragraphs_translation_is_the_same_number_in_the_other_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The ranking fit must not teach that the translation of the gold is a wrong answer.
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    from benchmark_data import translation_of

    assert translation_of("XQuAD-en-0019.txt") == "XQuAD-ar-0019.txt"
    assert translation_of("XQuAD-ar-1189.txt") == "XQuAD-en-1189.txt"
    assert translation_of("ARCD-0019.txt") is None
    assert translation_of("PIAF-0019.txt") is None
