from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import click
import pytest
from cogapp import Cog
from pydantic import BaseModel, Field, SecretStr

from bot.cli import cli
from bot.reference import GENERATED_FILES, commands_table, settings_table
from bot.repl.settings import ReplSettings
from bot.telegram.config import TelegramSettings
from rag.settings import CORE_SETTINGS_BY_CONCERN, EmptyMeansUnset, NewsbotSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_the_generated_docs_are_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    paths = [str(PROJECT_ROOT / name) for name in GENERATED_FILES]
    assert Cog().main(["cog", "--check", *paths]) == 0, (
        "a generated table is stale: run `uv run cog -r README.md docs/configuration.md`"
    )


@pytest.mark.parametrize(
    "settings_class", [*CORE_SETTINGS_BY_CONCERN, TelegramSettings, ReplSettings]
)
def test_every_setting_has_a_row_in_the_configuration_docs(
    settings_class: type[NewsbotSettings],
) -> None:
    docs = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert settings_table(settings_class) in docs
    for name, info in settings_class.model_fields.items():
        assert info.description, f"NEWSBOT_{name.upper()} has no description"


class Sample(BaseModel):
    size: int = Field(default=10, ge=1, le=50, description="How many | at most.")
    timeout: float = Field(default=2.5, gt=0, le=60, description="Seconds.")
    mode: Literal["fast", "slow"] = Field(default="fast", description="Mode.")
    enabled: bool = Field(default=True, description="On or off.")
    token: Annotated[SecretStr | None, EmptyMeansUnset] = Field(default=None, description="Key.")
    home: Path = Field(default=Path("data"), description="Folder.")
    server_url: str | None = Field(default=None, description="Where.")


def test_a_settings_table_gives_default_limits_and_description() -> None:
    assert settings_table(Sample).splitlines() == [
        "| variable | default | accepts | meaning |",
        "| --- | --- | --- | --- |",
        "| `NEWSBOT_SIZE` | `10` | 1–50 | How many \\| at most. |",
        "| `NEWSBOT_TIMEOUT` | `2.5` | over 0, up to 60 | Seconds. |",
        "| `NEWSBOT_MODE` | `fast` | `fast`, `slow` | Mode. |",
        "| `NEWSBOT_ENABLED` | `true` | `true`, `false` | On or off. |",
        "| `NEWSBOT_TOKEN` | empty | secret | Key. |",
        "| `NEWSBOT_HOME` | `data` | path | Folder. |",
        "| `NEWSBOT_SERVER_URL` | empty | URL | Where. |",
    ]


def test_a_commands_table_gives_usage_help_without_examples_and_options() -> None:
    @click.group()
    def group() -> None:
        """The group."""

    @group.command()
    @click.argument("name")
    @click.option("--loud", is_flag=True, help="Shout it.")
    def greet(name: str, loud: bool) -> None:
        """Greet NAME.

        Once, politely.

        \b
        Examples:
          tool greet Ada
        """

    assert commands_table(group, see={"greet": "[greeting](greet.md)"}, prog_name="tool") == (
        "| command | what it does | options |\n"
        "| --- | --- | --- |\n"
        "| `tool greet NAME` | Greet NAME. Once, politely. See [greeting](greet.md). "
        "| `--loud`: Shout it. |\n"
    )


def test_the_readme_lists_every_command() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for name in cli.commands:
        assert f"| `newsbot {name}" in readme
