"""Configuration: environment variables prefixed NEWSBOT_, and a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
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
        default=50, ge=1, le=1000, description="Depth of each ranking before fusion."
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
        default=0.3,
        ge=0.0,
        le=1.0,
        description="Abstain when the best passage covers less of the question than this.",
    )
    lexical_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    vector_weight: float = Field(default=0.5, ge=0.0, le=10.0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    telegram_token: SecretStr | None = Field(default=None, description="Bot token.")
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

    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    def lexical_dir(self) -> Path:
        return self.data_dir / "lexical"

    def lexical_cache_dir(self) -> Path:
        """Server mode: this machine's copy of the lexical index published on the server."""
        return self.data_dir / "lexical-cache"


def _describe(error: dict[str, object], secret_fields: set[str]) -> str:
    location = error.get("loc") or ()
    field = str(location[0]) if isinstance(location, tuple) and location else "?"
    variable = ENV_PREFIX + field.upper()
    message = str(error.get("msg", "invalid value"))
    if field in secret_fields:
        return f"{variable}: {message}"
    value = error.get("input")
    shown = f" (got {value!r})" if isinstance(value, str | int | float) else ""
    if field == "chroma_url" and isinstance(value, str):
        shown = ""  # a malformed URL may hold credentials
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
