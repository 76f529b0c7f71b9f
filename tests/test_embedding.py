from __future__ import annotations

import subprocess
import sys

import numpy as np

from rag.embedding import hashed_ngram_vector, hashed_ngram_vectors, make_embedding
from rag.settings import Settings


def cosine(a: str, b: str) -> float:
    return float(hashed_ngram_vector(a, 512) @ hashed_ngram_vector(b, 512))


def test_unit_length_and_dimension() -> None:
    vector = hashed_ngram_vector("Microsoft will buy TikTok", 384)
    assert vector.shape == (384,)
    assert np.linalg.norm(vector) == np.float32(1.0) or abs(np.linalg.norm(vector) - 1) < 1e-5


def test_empty_text_gives_zero_vector() -> None:
    assert not hashed_ngram_vector("   ", 64).any()


def test_related_texts_are_closer_than_unrelated() -> None:
    question = "Microsoft data storage in the United States"
    assert cosine(question, "all private data of US users remains in the United States") > cosine(
        question, "Amazon asked employees to delete the app from their phones"
    )


def test_arabic_spelling_variants_embed_alike() -> None:
    assert cosine("أمازون تحظر التطبيق", "امازون تحظر التطبيق") > 0.99
    assert cosine("مُحَمَّد", "محمد") > 0.99


def test_stable_across_processes() -> None:
    """Hashing must not depend on Python's per-process string hash seed."""
    code = (
        "from rag.embedding import hashed_ngram_vector as h; "
        "print(h('تيك توك TikTok', 64).tolist())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1


def test_factory_builds_a_llama_index_embedding() -> None:
    embedding = make_embedding(Settings(embedding_dim=128))
    vector = embedding.get_text_embedding("TikTok")
    assert len(vector) == 128
    assert embedding.get_query_embedding("TikTok") == vector
    assert len(embedding.get_text_embedding_batch(["a b c", "d e f"])) == 2


def test_a_batch_embeds_each_text_as_alone() -> None:
    texts = ["Microsoft will buy TikTok", "", "a", "تيك توك TikTok", "ab", "x " * 300]
    batch = hashed_ngram_vectors(texts, 256)
    assert batch.shape == (len(texts), 256)
    for text, vector in zip(texts, batch, strict=True):
        assert np.array_equal(vector, hashed_ngram_vector(text, 256))


def test_the_ingest_fast_path_matches_llama_index_batches() -> None:
    embedding = make_embedding(Settings(embedding_dim=128))
    texts = [f"passage {n} about TikTok" for n in range(700)]
    fast = embedding.vectors(texts)  # type: ignore[attr-defined]
    assert np.allclose(fast, np.array(embedding.get_text_embedding_batch(texts)))
