"""Language-model backends behind llama-index's `LLM`, chosen by a small factory.

`none` (the default) means no model: answers are extractive. `openai` speaks the
OpenAI chat-completions API, to OpenAI itself or to any compatible server (vLLM,
llama.cpp, LM Studio, Ollama's /v1) given NEWSBOT_LLM_BASE_URL. `ollama` speaks
Ollama's own API. Each backend comes from an optional extra; a missing one stops
newsbot at start with the command that installs it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from rag.errors import ConfigError

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

    from rag.settings import Settings

OPENAI_API_URL = "https://api.openai.com/v1"
OLLAMA_URL = "http://localhost:11434"
DEFAULT_LLM_MODELS = {"openai": "gpt-4o-mini", "ollama": "qwen2.5:7b"}
# Five passages of about 1000 characters, in Arabic, plus the instructions, fit in 8k tokens;
# Ollama's own default (2048) would silently cut the passages off.
CONTEXT_WINDOW = 8192
# A local server needs no key, but the OpenAI client refuses to start without one.
NO_KEY = "not-needed"

logger = logging.getLogger("newsbot.llm")


def missing_extra(variable: str, provider: str, extra: str) -> ConfigError:
    return ConfigError(
        f"{variable}={provider} needs the optional {extra!r} dependencies; "
        f"install them with: uv sync --extra {extra}"
    )


def api_key_of(settings: Settings) -> str | None:
    return settings.llm_api_key.get_secret_value() if settings.llm_api_key else None


def _openai_llm(settings: Settings) -> LLM:
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError:
        raise missing_extra("NEWSBOT_LLM_PROVIDER", "openai", "openai") from None
    key = api_key_of(settings)
    if settings.llm_base_url is None and key is None:
        raise ConfigError(
            "NEWSBOT_LLM_PROVIDER=openai without NEWSBOT_LLM_BASE_URL uses the OpenAI API, "
            "which needs NEWSBOT_LLM_API_KEY; for a local server set NEWSBOT_LLM_BASE_URL"
        )
    return OpenAILike(
        model=settings.llm_model or DEFAULT_LLM_MODELS["openai"],
        api_base=settings.llm_base_url or OPENAI_API_URL,
        api_key=key or NO_KEY,
        is_chat_model=True,
        context_window=CONTEXT_WINDOW,
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout,
        # newsbot falls back to the extractive answer at once rather than retrying.
        max_retries=0,
    )


def _ollama_llm(settings: Settings) -> LLM:
    try:
        from llama_index.llms.ollama import Ollama
    except ImportError:
        raise missing_extra("NEWSBOT_LLM_PROVIDER", "ollama", "ollama") from None
    key = api_key_of(settings)
    return Ollama(
        model=settings.llm_model or DEFAULT_LLM_MODELS["ollama"],
        base_url=settings.llm_base_url or OLLAMA_URL,
        request_timeout=settings.llm_timeout,
        temperature=settings.llm_temperature,
        context_window=CONTEXT_WINDOW,
        headers={"Authorization": f"Bearer {key}"} if key else None,
    )


LLM_FACTORIES: dict[str, Callable[[Settings], LLM]] = {
    "openai": _openai_llm,
    "ollama": _ollama_llm,
}


def make_llm(settings: Settings) -> LLM | None:
    """Build the model named by NEWSBOT_LLM_PROVIDER; None when it is `none`."""
    if settings.llm_provider == "none":
        return None
    try:
        factory = LLM_FACTORIES[settings.llm_provider]
    except KeyError:
        known = ", ".join(["none", *sorted(LLM_FACTORIES)])
        raise ConfigError(
            f"NEWSBOT_LLM_PROVIDER={settings.llm_provider!r} is not one of: {known}"
        ) from None
    return factory(settings)


def llm_name(settings: Settings) -> str:
    """`provider:model`, for status lines."""
    if settings.llm_provider == "none":
        return "none"
    model = settings.llm_model or DEFAULT_LLM_MODELS.get(settings.llm_provider, "?")
    return f"{settings.llm_provider}:{model}"


_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """`text` without the given secrets and without credentials written into URLs."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _URL_CREDENTIALS.sub("***@", text)


def _class_names(exc: BaseException) -> str:
    return " ".join(cls.__name__ for cls in type(exc).__mro__)


_CLIENT_PACKAGES = frozenset({"openai", "ollama", "httpx", "httpcore", "requests", "urllib3"})


def is_server_failure(exc: BaseException) -> bool:
    """Whether `exc` comes from talking to a model server (not, say, from Chroma)."""
    package = type(exc).__module__.split(".", 1)[0]
    return package in _CLIENT_PACKAGES or isinstance(exc, ConnectionError | TimeoutError)


def describe_failure(exc: BaseException, timeout: float) -> str:
    """What went wrong talking to a model server, in a few words fit for a notice.

    Works from the exception's class names and status code, so it covers the OpenAI,
    Ollama and httpx clients without importing them, and never quotes the server's
    reply (which may echo the API key).
    """
    names = _class_names(exc)
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return f"HTTP {status}"
    if "Timeout" in names or isinstance(exc, TimeoutError):
        return f"no reply within {timeout:g} s"
    if "Connect" in names or isinstance(exc, ConnectionError):
        return "cannot connect to the server"
    if "RemoteProtocolError" in names or "Decode" in names:
        return "malformed reply"
    if isinstance(exc, ValueError | TypeError | AttributeError | KeyError | IndexError):
        # The client could not make sense of what the server sent.
        return "malformed reply"
    return type(exc).__name__


class ModelCallError(Exception):
    """A call to the language model failed; `reason` is a few words fit for a notice."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatModel:
    """The configured language model, with newsbot's handling of failures.

    Every failure (timeout, refused connection, HTTP error, malformed reply) becomes a
    ModelCallError whose reason quotes nothing the server said, so the API key cannot
    leak through it; the server's own words are logged at DEBUG with the key redacted.
    """

    def __init__(self, llm: LLM, *, name: str, timeout: float, secret: str | None) -> None:
        self.llm = llm
        self.name = name
        self.timeout = timeout
        self._secret = secret

    def __repr__(self) -> str:
        return f"ChatModel({self.name!r})"

    def _failure(self, exc: Exception) -> ModelCallError:
        reason = describe_failure(exc, self.timeout)
        logger.info("language model %s failed: %s", self.name, reason)
        logger.debug(
            "language model failure detail: %s: %s",
            type(exc).__name__,
            redact(str(exc), [self._secret]),
        )
        return ModelCallError(reason)

    @staticmethod
    def _messages(system: str, user: str) -> list[object]:
        from llama_index.core.llms import ChatMessage

        return [ChatMessage(role="system", content=system), ChatMessage(role="user", content=user)]

    # The ModelCallError is raised outside the `except` block so that it does not carry
    # the client's exception (and the server's words in it) as its __context__.

    def complete(self, system: str, user: str) -> str:
        """The model's whole reply to one system + user message."""
        try:
            response = self.llm.chat(self._messages(system, user))  # type: ignore[arg-type]
            return response.message.content or ""
        except Exception as exc:
            failure = self._failure(exc)
        raise failure

    def stream(self, system: str, user: str) -> Iterator[str]:
        """The model's reply, piece by piece as the server sends it."""
        try:
            for response in self.llm.stream_chat(self._messages(system, user)):  # type: ignore[arg-type]
                if response.delta:
                    yield response.delta
            return
        except Exception as exc:
            failure = self._failure(exc)
        raise failure


def make_chat_model(settings: Settings) -> ChatModel | None:
    llm = make_llm(settings)
    if llm is None:
        return None
    return ChatModel(
        llm, name=llm_name(settings), timeout=settings.llm_timeout, secret=api_key_of(settings)
    )
