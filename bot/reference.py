"""The reference tables of the docs, generated from the code: each settings table of
docs/configuration.md from its settings class's fields (default, limits, description), and
the README's commands table from the click commands' help.

The docs hold them in cog blocks (https://nedbatchelder.com/code/cog/, as simonw/llm does):
`uv run cog -r README.md docs/configuration.md` writes them again, and CI runs
`uv run cog --check README.md docs/configuration.md`, which fails when one is stale.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import annotated_types
import click
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from rag.settings import ENV_PREFIX

# The files whose cog blocks these functions write, from the project's root.
GENERATED_FILES = ("README.md", "docs/configuration.md")


def settings_table(settings_class: type[BaseModel]) -> str:
    """A Markdown table of `settings_class`'s settings: variable, default, accepted values,
    meaning (its field's description)."""
    rows = [
        "| variable | default | accepts | meaning |",
        "| --- | --- | --- | --- |",
    ]
    for name, info in settings_class.model_fields.items():
        cells = [
            f"`{ENV_PREFIX}{name.upper()}`",
            _default(info),
            _accepts(name, info),
            info.description or "",
        ]
        rows.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(rows) + "\n"


def commands_table(
    group: click.Group, see: Mapping[str, str] | None = None, prog_name: str = "newsbot"
) -> str:
    """A Markdown table of `group`'s commands: the usage, then the help without its
    examples, its options and `see[name]` (a link to more) when given."""
    rows = ["| command | what it does | options |", "| --- | --- | --- |"]
    parent = click.Context(group, info_name=prog_name)
    for name, command in group.commands.items():
        context = click.Context(command, info_name=name, parent=parent)
        arguments = [
            piece for piece in command.collect_usage_pieces(context) if piece != "[OPTIONS]"
        ]
        usage = " ".join([context.command_path, *arguments])
        what = _help_text(command)
        if see and name in see:
            what += f" See {see[name]}."
        options = [
            record
            for parameter in command.get_params(context)
            if isinstance(parameter, click.Option)
            and "--help" not in parameter.opts
            and (record := parameter.get_help_record(context)) is not None
        ]
        option_text = " ".join(f"`{flags}`: {' '.join(text.split())}" for flags, text in options)
        rows.append(f"| `{usage}` | {_cell(what)} | {_cell(option_text)} |")
    return "\n".join(rows) + "\n"


def _help_text(command: click.Command) -> str:
    """The command's help as one line: its paragraphs, without the \\b blocks (examples)."""
    paragraphs = inspect.cleandoc(command.help or "").split("\n\n")
    kept = [" ".join(p.split()) for p in paragraphs if p.strip() and not p.startswith("\b")]
    return " ".join(kept)


def _default(info: FieldInfo) -> str:
    value = info.default
    if value is None or value == frozenset():
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        return f"`{value.as_posix()}`"
    return f"`{value}`"


def _accepts(name: str, info: FieldInfo) -> str:
    """The values a setting accepts, as its type and constraints say."""
    kinds = _kinds(info.annotation)
    choices = [
        arg for kind in kinds if typing.get_origin(kind) is Literal for arg in typing.get_args(kind)
    ]
    if choices:
        return ", ".join(f"`{choice}`" for choice in choices)
    if bool in kinds:
        return "`true`, `false`"
    if SecretStr in kinds:
        return "secret"
    if int in kinds or float in kinds:
        return _range(info)
    if Path in kinds:
        return "path"
    if name.endswith("_url"):
        return "URL"
    if any(typing.get_origin(kind) is frozenset for kind in kinds):
        return "comma-separated ids"
    return "text"


def _kinds(annotation: object) -> list[object]:
    """The types an annotation allows: `Annotated[float | None, …]` -> [float, NoneType]."""
    if typing.get_origin(annotation) is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [kind for arg in typing.get_args(annotation) for kind in _kinds(arg)]
    return [annotation]


def _range(info: FieldInfo) -> str:
    low: object = None
    high: object = None
    low_open = high_open = False
    for constraint in info.metadata:
        if isinstance(constraint, annotated_types.Ge):
            low = constraint.ge
        elif isinstance(constraint, annotated_types.Gt):
            low, low_open = constraint.gt, True
        elif isinstance(constraint, annotated_types.Le):
            high = constraint.le
        elif isinstance(constraint, annotated_types.Lt):
            high, high_open = constraint.lt, True
    if low is None or high is None:
        return "number"
    if low_open or high_open:
        above = f"over {_number(low)}" if low_open else f"{_number(low)} or more"
        below = f"under {_number(high)}" if high_open else f"up to {_number(high)}"
        return f"{above}, {below}"
    return f"{_number(low)}–{_number(high)}"


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def _cell(text: str) -> str:
    """`text` as one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")
