"""Configuration: environment variables prefixed NEWSBOT_, and a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

ENV_PREFIX = "NEWSBOT_"


class Settings(BaseSettings):
    """Every setting newsbot reads. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

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
    max_question_chars: int = Field(
        default=2000, ge=50, le=100000, description="Longer questions are truncated."
    )
    embedding_provider: Literal["hashing"] = Field(
        default="hashing", description="Embedding backend."
    )
    embedding_dim: int = Field(
        default=768, ge=64, le=8192, description="Dimensions of the offline hashing embedding."
    )
    min_evidence: float = Field(
        default=0.35,
        ge=0.0,
        le=1.0,
        description="Abstain when the best passage covers less of the question than this.",
    )
    # Weights of the rankings that are fused; chosen on the benchmarks' tuning split.
    lexical_weight: float = Field(default=0.0, ge=0.0, le=10.0)
    subword_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    vector_weight: float = Field(default=0.0, ge=0.0, le=10.0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    telegram_token: SecretStr | None = Field(default=None, description="Bot token.")

    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"


def _describe(error: dict[str, object], secret_fields: set[str]) -> str:
    location = error.get("loc") or ()
    field = str(location[0]) if isinstance(location, tuple) and location else "?"
    variable = ENV_PREFIX + field.upper()
    message = str(error.get("msg", "invalid value"))
    if field in secret_fields:
        return f"{variable}: {message}"
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
    return f"{variable}: {message}{shown}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one ConfigError line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        secret_fields = {
            name
            for name, info in Settings.model_fields.items()
            if info.annotation is not None and "SecretStr" in str(info.annotation)
        }
        first = exc.errors()[0]
        more = len(exc.errors()) - 1
        suffix = f" (and {more} more invalid setting{'s' if more > 1 else ''})" if more else ""
        raise ConfigError(
            "invalid setting " + _describe(dict(first), secret_fields) + suffix
        ) from None
