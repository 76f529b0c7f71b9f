"""Language-model backends behind llama-index's `LLM`, chosen by a small factory.

`none` (the default) means no model: answers are extractive. `openai` speaks the
OpenAI chat-completions API, to OpenAI itself or to any compatible server (vLLM,
llama.cpp, LM Studio, Ollama's /v1) given NEWSBOT_LLM_BASE_URL. `ollama` speaks
Ollama's own API. Each backend comes from an optional extra; a missing one stops
newsbot at start with the command that installs it.

Two limits bound a call: NEWSBOT_LLM_TIMEOUT, the client's own, on each wait (to connect,
for the next piece); and NEWSBOT_LLM_DEADLINE on the whole reply, which `_Deadline` holds
on the HTTP client through its event hooks (see there).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import socket
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError
from rag.safe_text import redact

if TYPE_CHECKING:
    import httpx
    from llama_index.core.llms import LLM

    from rag.settings import LLMConfig

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


class _Deadline:
    """The time one model call may take, held on its HTTP exchange.

    A client's timeout bounds each wait, so a model that trickles a token now and then
    never reaches it. While the call runs (`active`), the HTTP client's request hook cuts
    every timeout of a request (connect, write, the wait for the reply's headers) to the
    time left, and its response hook hands over the connection's socket, which a timer
    shuts down when the time is up: a read blocked on a slow stream ends at once, and the
    client closes the connection. Nothing of the call runs on past its deadline.
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds if seconds is not None else None
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._ended = False
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self.expire)
            self._timer.name = "newsbot-llm-deadline"
            self._timer.daemon = True
            self._timer.start()

    def left(self) -> float | None:
        """Seconds left; None without a deadline."""
        return None if self.ends is None else self.ends - time.monotonic()

    @property
    def overran(self) -> bool:
        left = self.left()
        # A timeout cut to the time left fires at the deadline, give or take the clock.
        return self._expired or (left is not None and left <= _DEADLINE_SLACK)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """While the block runs, this thread's HTTP requests are this call's."""
        token = _CURRENT_CALL.set(self)
        try:
            yield
        finally:
            _CURRENT_CALL.reset(token)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._ended:
                self._sockets.append(sock)
            stop_now = self._expired
        if stop_now:
            _shut(sock)

    def expire(self) -> None:
        """Time is up: end the call's reads by shutting its connections down."""
        self.abort(expired=True)

    def abort(self, *, expired: bool = False) -> None:
        with self._lock:
            if self._ended:
                return
            self._expired |= expired
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def end(self) -> None:
        """The call is over; its connections are the client's again."""
        with self._lock:
            self._ended = True
            self._sockets = []
        if self._timer is not None:
            self._timer.cancel()


_DEADLINE_SLACK = 0.01
_CURRENT_CALL: contextvars.ContextVar[_Deadline | None] = contextvars.ContextVar(
    "newsbot_llm_call", default=None
)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


def _hold_to_deadline(request: httpx.Request) -> None:
    """httpx request hook: no wait of the request may outlast its call's deadline."""
    call = _CURRENT_CALL.get()
    left = call.left() if call is not None else None
    if call is None or left is None:
        return
    if left <= 0:
        call.expire()
        raise TimeoutError("the model call's deadline has passed")
    timeouts = request.extensions.get("timeout")
    if isinstance(timeouts, dict):
        request.extensions["timeout"] = {
            phase: left if value is None else min(value, left) for phase, value in timeouts.items()
        }


def _watch_connection(response: httpx.Response) -> None:
    """httpx response hook: the call's deadline may shut the connection down."""
    call = _CURRENT_CALL.get()
    stream = response.extensions.get("network_stream")
    if call is None or call.seconds is None or stream is None:
        return
    sock = stream.get_extra_info("socket")
    if isinstance(sock, socket.socket):
        call.watch(sock)


def deadline_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """The event hooks that hold a model call to NEWSBOT_LLM_DEADLINE, for an httpx.Client."""
    return {"request": [_hold_to_deadline], "response": [_watch_connection]}


def _openai_llm(config: LLMConfig) -> LLM:
    try:
        from llama_index.llms.openai_like import OpenAILike
    except ImportError:
        raise missing_extra("NEWSBOT_LLM_PROVIDER", "openai", "openai") from None
    import httpx

    key = config.api_key
    if config.base_url is None and key is None:
        raise ConfigError(
            "NEWSBOT_LLM_PROVIDER=openai without NEWSBOT_LLM_BASE_URL uses the OpenAI API, "
            "which needs NEWSBOT_LLM_API_KEY; for a local server set NEWSBOT_LLM_BASE_URL"
        )
    return OpenAILike(
        model=config.model or DEFAULT_LLM_MODELS["openai"],
        api_base=config.base_url or OPENAI_API_URL,
        api_key=key or NO_KEY,
        is_chat_model=True,
        context_window=CONTEXT_WINDOW,
        temperature=config.temperature,
        timeout=config.timeout,
        # A token is at least about a character: the server stops no earlier than newsbot.
        max_tokens=config.max_answer_chars,
        # newsbot falls back to the extractive answer at once rather than retrying.
        max_retries=0,
        # The OpenAI client's own settings (it sends `timeout` with each request), and the
        # hooks that hold each call to NEWSBOT_LLM_DEADLINE.
        http_client=httpx.Client(
            timeout=config.timeout, follow_redirects=True, event_hooks=deadline_hooks()
        ),
    )


def _ollama_llm(config: LLMConfig) -> LLM:
    try:
        from llama_index.llms.ollama import Ollama
        from ollama import Client
    except ImportError:
        raise missing_extra("NEWSBOT_LLM_PROVIDER", "ollama", "ollama") from None
    key = config.api_key
    base_url = config.base_url or OLLAMA_URL
    headers = {"Authorization": f"Bearer {key}"} if key else None
    return Ollama(
        model=config.model or DEFAULT_LLM_MODELS["ollama"],
        base_url=base_url,
        request_timeout=config.timeout,
        temperature=config.temperature,
        context_window=CONTEXT_WINDOW,
        # Ollama's name for max_tokens; a token is at least about a character.
        additional_kwargs={"num_predict": config.max_answer_chars},
        headers=headers,
        # The client Ollama would make, with the hooks that hold each call to the deadline.
        client=Client(
            host=base_url,
            timeout=config.timeout,
            headers=headers,
            event_hooks=deadline_hooks(),
        ),
    )


LLM_FACTORIES: dict[str, Callable[[LLMConfig], LLM]] = {
    "openai": _openai_llm,
    "ollama": _ollama_llm,
}


def make_llm(config: LLMConfig) -> LLM | None:
    """Build the model named by NEWSBOT_LLM_PROVIDER; None when it is `none`."""
    if config.provider == "none":
        return None
    try:
        factory = LLM_FACTORIES[config.provider]
    except KeyError:
        known = ", ".join(["none", *sorted(LLM_FACTORIES)])
        raise ConfigError(
            f"NEWSBOT_LLM_PROVIDER={config.provider!r} is not one of: {known}"
        ) from None
    return factory(config)


def llm_name(config: LLMConfig) -> str:
    """`provider:model`, for status lines."""
    if config.provider == "none":
        return "none"
    model = config.model or DEFAULT_LLM_MODELS.get(config.provider, "?")
    return f"{config.provider}:{model}"


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
    """A call to the language model failed; `reason` is a few words fit for a notice.

    `deadline` is set (to NEWSBOT_LLM_DEADLINE) when the reply took longer than that.
    """

    def __init__(self, reason: str, *, deadline: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.deadline = deadline


class ChatModel:
    """The configured language model, with newsbot's handling of failures.

    Every failure (timeout, refused connection, HTTP error, malformed reply) becomes a
    ModelCallError whose reason quotes nothing the server said, so the API key cannot
    leak through it; the server's own words are logged at DEBUG with the key redacted.
    A reply that takes longer than `deadline` seconds in all is cut off (its connection
    closed) and fails too, however steadily it streams; the model's client must have
    `deadline_hooks` (as `make_llm`'s have) for a wait to end right at the deadline.
    """

    def __init__(
        self,
        llm: LLM,
        *,
        name: str,
        timeout: float,
        secret: str | None,
        deadline: float | None = None,
    ) -> None:
        self.llm = llm
        self.name = name
        self.timeout = timeout
        self.deadline = deadline
        self._secret = secret

    def __repr__(self) -> str:
        return f"ChatModel({self.name!r})"

    def _overran(self) -> ModelCallError:
        assert self.deadline is not None
        logger.info("language model %s took longer than %g s", self.name, self.deadline)
        return ModelCallError(f"took longer than {self.deadline:g} s", deadline=self.deadline)

    def _failure(self, exc: Exception, call: _Deadline) -> ModelCallError:
        if call.overran:
            logger.debug("language model call cut at its deadline: %s", type(exc).__name__)
            return self._overran()
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
        call = _Deadline(self.deadline)
        try:
            with call.active():
                response = self.llm.chat(self._messages(system, user))  # type: ignore[arg-type]
            return response.message.content or ""
        except Exception as exc:
            failure = self._failure(exc, call)
        finally:
            call.end()
        raise failure

    def stream(self, system: str, user: str) -> Generator[str, None, None]:
        """The model's reply, piece by piece as the server sends it.

        Closing the generator early (the caller has enough) closes the connection.
        """
        call = _Deadline(self.deadline)
        failure: ModelCallError | None = None
        pieces: Iterator[Any] | None = None
        try:
            with call.active():
                pieces = iter(self.llm.stream_chat(self._messages(system, user)))  # type: ignore[arg-type]
            while True:
                with call.active():
                    response = next(pieces, None)
                # A stream cut at the deadline may look like one that ended.
                if call.overran:
                    call.expire()
                    failure = self._overran()
                    break
                if response is None:
                    break
                if response.delta:
                    yield response.delta
        except GeneratorExit:
            call.abort()  # the reply is still coming: its connection is this call's alone
            raise
        except Exception as exc:
            failure = self._failure(exc, call)
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                with call.active(), contextlib.suppress(Exception):
                    close()
            call.end()
        if failure is not None:
            raise failure


def make_chat_model(config: LLMConfig) -> ChatModel | None:
    llm = make_llm(config)
    if llm is None:
        return None
    return ChatModel(
        llm,
        name=llm_name(config),
        timeout=config.timeout,
        secret=config.api_key,
        deadline=config.deadline,
    )
