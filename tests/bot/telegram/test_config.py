"""The Telegram bot's settings (NEWSBOT_TELEGRAM_*) and the configuration checked from them."""

from __future__ import annotations

import pytest

from bot.telegram.config import TelegramConfig, TelegramSettings
from rag.errors import ConfigError

TOKEN = "1:" + "a" * 35


def test_defaults() -> None:
    settings = TelegramSettings.load()
    assert settings.telegram_token is None and not settings.telegram_public
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert (settings.telegram_rate_limit, settings.telegram_workers) == (10, 4)
    assert settings.telegram_webhook_url is None and settings.telegram_webhook_port == 8443


def test_secret_values_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_TOKEN", "123:SECRET")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_SECRET", "hook-SECRET")
    settings = TelegramSettings.load()
    assert "SECRET" not in repr(settings) and "SECRET" not in str(settings.model_dump())


def test_telegram_id_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_ALLOWED_USERS", " 12, 34,,-100777 ")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_ALLOWED_CHATS", "")
    settings = TelegramSettings.load()
    assert settings.telegram_allowed_users == frozenset({12, 34, -100777})
    assert settings.telegram_allowed_chats == frozenset()
    monkeypatch.setenv("NEWSBOT_TELEGRAM_ALLOWED_CHATS", "12,@mygroup")
    with pytest.raises(ConfigError, match=r"NEWSBOT_TELEGRAM_ALLOWED_CHATS: .*'@mygroup'"):
        TelegramSettings.load()


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
        TelegramSettings.load()
    assert problem in str(caught.value)


def test_webhook_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_URL", "https://bot.example.org:8443/newsbot")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_PORT", "9000")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_SECRET", "")  # empty: unset
    settings = TelegramSettings.load()
    assert settings.telegram_webhook_port == 9000 and settings.telegram_webhook_secret is None
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_SECRET", "has spaces & SECRET")
    with pytest.raises(ConfigError) as caught:
        TelegramSettings.load()
    assert "NEWSBOT_TELEGRAM_WEBHOOK_SECRET: Value error, must be 1-256 characters" in str(
        caught.value
    )
    assert "SECRET" not in str(caught.value).replace("WEBHOOK_SECRET", "")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_SECRET", "ok")
    monkeypatch.setenv("NEWSBOT_TELEGRAM_WEBHOOK_PORT", "0")
    with pytest.raises(ConfigError, match="NEWSBOT_TELEGRAM_WEBHOOK_PORT"):
        TelegramSettings.load()


def test_telegram_base_url_and_empty_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TELEGRAM_TOKEN", "")
    assert TelegramSettings.load().telegram_token is None
    assert TelegramSettings.load().telegram_base_url == "https://api.telegram.org/bot"
    monkeypatch.setenv("NEWSBOT_TELEGRAM_BASE_URL", "api.telegram.org/bot")
    with pytest.raises(ConfigError, match="NEWSBOT_TELEGRAM_BASE_URL"):
        TelegramSettings.load()


def test_the_telegram_settings_ignore_the_core_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_TOP_K", "not a number")  # the engine's to complain about
    monkeypatch.setenv("NEWSBOT_TELEGRAM_PUBLIC", "true")
    assert TelegramSettings.load().telegram_public


def test_tokens_must_look_like_botfathers_and_are_never_echoed() -> None:
    good = "123456789:" + "A1b2_C3d4-" * 3 + "xyz12"
    assert len(good.split(":")[1]) == 35
    config = TelegramConfig.from_settings(
        TelegramSettings(telegram_token=good, telegram_public=True)
    )
    assert config.token == good and good not in repr(config)
    assert config.webhook is None and config.access.is_open
    for bad in (good[:-1], good + "x", "abc:" + "A" * 35, good.replace("_", "!"), "  "):
        with pytest.raises(ConfigError) as caught:
            TelegramConfig.from_settings(TelegramSettings(telegram_token=bad))
        message = str(caught.value)
        assert message.startswith("NEWSBOT_TELEGRAM_TOKEN is ")
        assert (bad.split(":")[-1] not in message) if bad.strip() else "not set" in message


def test_without_allowlists_the_bot_starts_only_if_it_is_declared_public() -> None:
    with pytest.raises(ConfigError) as caught:
        TelegramConfig.from_settings(TelegramSettings(telegram_token=TOKEN))
    assert str(caught.value) == (
        "NEWSBOT_TELEGRAM_ALLOWED_USERS and NEWSBOT_TELEGRAM_ALLOWED_CHATS are both empty: "
        "list who may use the bot, or set NEWSBOT_TELEGRAM_PUBLIC=true to let anyone on "
        "Telegram use it"
    )
    public = TelegramConfig.from_settings(
        TelegramSettings(telegram_token=TOKEN, telegram_public=True)
    )
    assert public.access.is_open
    for allowlist in ({"telegram_allowed_users": "7"}, {"telegram_allowed_chats": "-100"}):
        restricted = TelegramConfig.from_settings(
            TelegramSettings(telegram_token=TOKEN, **allowlist)
        )
        assert not restricted.access.is_open and not restricted.access.allows(8, 8)
        with pytest.raises(ConfigError, match="not both"):
            TelegramConfig.from_settings(
                TelegramSettings(telegram_token=TOKEN, telegram_public=True, **allowlist)
            )


def test_webhook_configuration() -> None:
    settings = TelegramSettings(
        telegram_token=TOKEN,
        telegram_public=True,
        telegram_webhook_url="https://bot.example.org/newsbot/hook/",
        telegram_webhook_port=9443,
    )
    first, second = (TelegramConfig.from_settings(settings) for _ in range(2))
    assert first.webhook is not None and second.webhook is not None
    assert first.webhook.path == "newsbot/hook" and first.webhook.port == 9443
    assert first.webhook.listen == "127.0.0.1"
    # Without a configured secret, each start makes up its own.
    assert len(first.webhook.secret) >= 32 and first.webhook.secret != second.webhook.secret
    assert first.webhook.secret in first.secrets and first.webhook.secret not in repr(first)
