"""The language-model factory and the handling of failures and secrets."""

from __future__ import annotations

import re
import sys
import threading

import pytest
from pydantic import SecretStr

from rag.backends.llm import (
    ChatModel,
    ModelCallError,
    describe_failure,
    is_server_failure,
    llm_name,
    make_chat_model,
    make_llm,
)
from rag.engine import Engine
from rag.errors import ConfigError
from rag.settings import Settings, load_settings
from tests.conftest import API_KEY, needs_ollama, needs_openai
from tests.standins._server import Reply
from tests.standins.ollama_api import OllamaStandIn
from tests.standins.openai_api import OpenAIStandIn


def test_no_model_by_default() -> None:
    config = load_settings().llm()
    assert config.provider == "none" and make_llm(config) is None
    assert make_chat_model(config) is None and llm_name(config) == "none"


@pytest.mark.parametrize(
    ("provider", "module", "extra"),
    [
        ("openai", "llama_index.llms.openai_like", "openai"),
        ("ollama", "llama_index.llms.ollama", "ollama"),
    ],
)
def test_missing_extra_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, provider: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what an absent package looks like
    settings = Settings(llm_provider=provider, llm_base_url="http://127.0.0.1:9/v1")  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as caught:
        Engine(settings)
    assert str(caught.value) == (
        f"NEWSBOT_LLM_PROVIDER={provider} needs the optional {extra!r} dependencies; "
        f"install them with: uv sync --extra {extra}"
    )


@needs_openai
def test_openai_api_needs_a_key() -> None:
    with pytest.raises(ConfigError, match="NEWSBOT_LLM_API_KEY"):
        make_llm(Settings(llm_provider="openai").llm())


@needs_openai
def test_openai_settings_reach_the_client() -> None:
    llm = make_llm(
        Settings(
            llm_provider="openai",
            llm_base_url="http://127.0.0.1:8000/v1",
            llm_model="qwen2.5-7b-instruct",
            llm_timeout=12,
            llm_temperature=0.3,
        ).llm()
    )
    assert llm is not None
    assert (llm.model, llm.api_base, llm.timeout, llm.temperature, llm.max_retries) == (  # type: ignore[attr-defined]
        "qwen2.5-7b-instruct",
        "http://127.0.0.1:8000/v1",
        12,
        0.3,
        0,
    )
    assert llm.metadata.is_chat_model


@needs_ollama
def test_ollama_defaults() -> None:
    config = Settings(llm_provider="ollama").llm()
    llm = make_llm(config)
    assert llm is not None
    assert (llm.model, llm.base_url) == ("qwen2.5:7b", "http://localhost:11434")  # type: ignore[attr-defined]
    assert llm_name(config) == "ollama:qwen2.5:7b"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NEWSBOT_LLM_PROVIDER", "gpt", "NEWSBOT_LLM_PROVIDER: Input should be 'none', 'openai'"),
        ("NEWSBOT_LLM_BASE_URL", "localhost:8000", "NEWSBOT_LLM_BASE_URL: String should match"),
        ("NEWSBOT_LLM_TIMEOUT", "0", "NEWSBOT_LLM_TIMEOUT: Input should be greater than 0"),
        ("NEWSBOT_LLM_TEMPERATURE", "3", "NEWSBOT_LLM_TEMPERATURE: Input should be less than"),
        ("NEWSBOT_LLM_DEADLINE", "0", "NEWSBOT_LLM_DEADLINE: Input should be greater than 0"),
        ("NEWSBOT_LLM_DEADLINE", "3601", "NEWSBOT_LLM_DEADLINE: Input should be less than"),
        (
            "NEWSBOT_LLM_MAX_ANSWER_CHARS",
            "100",
            "NEWSBOT_LLM_MAX_ANSWER_CHARS: Input should be greater than or equal to 200",
        ),
    ],
)
def test_invalid_model_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match="^invalid setting " + re.escape(expected)):
        load_settings()


def test_empty_values_mean_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LLM_MODEL", "LLM_BASE_URL", "LLM_API_KEY", "EMBEDDING_MODEL"):
        monkeypatch.setenv(f"NEWSBOT_{name}", "")
    settings = load_settings()
    assert settings.llm_model is settings.llm_base_url is settings.llm_api_key is None
    assert settings.embedding_model is None


def test_api_key_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_LLM_API_KEY", API_KEY)
    settings = load_settings()
    assert isinstance(settings.llm_api_key, SecretStr)
    assert API_KEY not in repr(settings) + str(settings.model_dump())
    monkeypatch.setenv("NEWSBOT_LLM_TIMEOUT", "soon")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert API_KEY not in str(caught.value)


class _Timeout(Exception):
    pass


class APITimeoutError(Exception):
    pass


class ConnectError(Exception):
    pass


class _StatusError(Exception):
    status_code = 503


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (_StatusError(f"echo {API_KEY}"), "HTTP 503"),
        (APITimeoutError(), "no reply within 2.5 s"),
        (TimeoutError(), "no reply within 2.5 s"),
        (ConnectError(f"to http://x:{API_KEY}@h"), "cannot connect to the server"),
        (ConnectionRefusedError(), "cannot connect to the server"),
        (ValueError(f"bad json {API_KEY}"), "malformed reply"),
        (RuntimeError(API_KEY), "RuntimeError"),
    ],
)
def test_failures_are_described_without_quoting_the_server(exc: Exception, reason: str) -> None:
    assert describe_failure(exc, 2.5) == reason


@needs_openai
def test_chat_model_failure_carries_no_server_text(openai_standin: OpenAIStandIn) -> None:
    openai_standin.responder = lambda request: Reply(status=401, error=f"bad key {API_KEY}")
    model = make_chat_model(
        Settings(
            llm_provider="openai",
            llm_base_url=openai_standin.base_url,
            llm_api_key=SecretStr(API_KEY),
        ).llm()
    )
    assert isinstance(model, ChatModel)
    for call in (lambda: model.complete("s", "u"), lambda: list(model.stream("s", "u"))):
        with pytest.raises(ModelCallError) as caught:
            call()
        assert caught.value.reason == "HTTP 401"
        assert caught.value.__cause__ is None and caught.value.__context__ is None
        assert API_KEY not in repr(caught.value) + str(caught.value)
    assert API_KEY not in repr(model)


@needs_ollama
def test_ollama_key_goes_in_the_authorization_header(ollama_standin: OllamaStandIn) -> None:
    ollama_standin.responder = lambda request: Reply(text="hello")
    model = make_chat_model(
        Settings(
            llm_provider="ollama",
            llm_base_url=ollama_standin.base_url,
            llm_api_key=SecretStr(API_KEY),
        ).llm()
    )
    assert model is not None and model.complete("s", "u") == "hello"
    request = ollama_standin.requests[0]
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["options"]["num_ctx"] == 8192


def test_reply_limits_default_and_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings()
    assert (settings.llm_deadline, settings.llm_max_answer_chars) == (120.0, 4000)
    monkeypatch.setenv("NEWSBOT_LLM_DEADLINE", "45.5")
    monkeypatch.setenv("NEWSBOT_LLM_MAX_ANSWER_CHARS", "1500")
    settings = load_settings()
    assert (settings.llm_deadline, settings.llm_max_answer_chars) == (45.5, 1500)


@needs_openai
@needs_ollama
def test_answer_limit_is_the_models_max_tokens() -> None:
    base = {"llm_base_url": "http://127.0.0.1:9/v1", "llm_max_answer_chars": 1500}
    openai = make_llm(Settings(llm_provider="openai", **base).llm())  # type: ignore[arg-type]
    ollama = make_llm(Settings(llm_provider="ollama", **base).llm())  # type: ignore[arg-type]
    assert openai.max_tokens == 1500  # type: ignore[union-attr]
    assert ollama.additional_kwargs["num_predict"] == 1500  # type: ignore[union-attr]


MODEL_SERVERS = [
    pytest.param(OpenAIStandIn, "openai", marks=needs_openai, id="openai"),
    pytest.param(OllamaStandIn, "ollama", marks=needs_ollama, id="ollama"),
]


def deadline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "newsbot-llm-deadline"]


@pytest.mark.parametrize(("server_class", "provider"), MODEL_SERVERS)
def test_a_trickling_reply_is_cut_at_the_deadline(
    server_class: type[OpenAIStandIn | OllamaStandIn], provider: str
) -> None:
    with server_class() as server:
        model = make_chat_model(
            Settings(
                llm_provider=provider,  # type: ignore[arg-type]
                llm_base_url=server.base_url,
                llm_timeout=5,
                llm_deadline=1.5,
            ).llm()
        )
        assert model is not None
        server.responder = lambda request: Reply(text="ready")
        assert model.complete("s", "u") == "ready"  # the client's first call loads modules
        # A piece every 0.25 s, each well within the timeout: 10 s in all.
        words = [f"word{n} " for n in range(40)]
        server.responder = lambda request: Reply(text="".join(words), chunks=words, interval=0.25)
        for call in (lambda: model.complete("s", "u"), lambda: list(model.stream("s", "u"))):
            server.disconnected.clear()
            with pytest.raises(ModelCallError) as caught:
                call()
            assert (caught.value.reason, caught.value.deadline) == ("took longer than 1.5 s", 1.5)
            assert caught.value.__context__ is None
            assert server.replies_sent == 1, "only the first reply was sent in full"
            assert server.disconnected.wait(10), "the connection was closed"
        for thread in deadline_threads():
            thread.join(10)
        assert deadline_threads() == [], "nothing keeps running"


@pytest.mark.parametrize(("server_class", "provider"), MODEL_SERVERS)
def test_closing_a_stream_early_closes_its_connection(
    server_class: type[OpenAIStandIn | OllamaStandIn], provider: str
) -> None:
    with server_class() as server:
        model = make_chat_model(Settings(llm_provider=provider, llm_base_url=server.base_url).llm())  # type: ignore[arg-type]
        assert model is not None
        rest_may_come = threading.Event()
        server.responder = lambda request: Reply(
            chunks=["piece "] * 5000, hold=rest_may_come, hold_after=2
        )
        stream = model.stream("s", "u")
        assert next(stream) == "piece "
        stream.close()
        rest_may_come.set()
        assert server.disconnected.wait(10)
        assert server.replies_sent == 0


def test_only_client_failures_count_as_server_failures() -> None:
    import httpx

    assert is_server_failure(httpx.ReadTimeout("slow"))
    assert is_server_failure(ConnectionRefusedError())
    assert not is_server_failure(ValueError("a bug of ours"))
    assert not is_server_failure(RuntimeError("Chroma is unhappy"))
