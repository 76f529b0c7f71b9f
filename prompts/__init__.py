"""The prompt and message templates, as files of this package, and how they are read.

The files ship in the wheel as package data and are found through `importlib.resources`,
so an installed newsbot reads the same templates as a checkout.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from string import Template

PROMPTS_DIR: Traversable = files(__name__)


def _template_file(name: str) -> Traversable:
    """`<name>.txt` in this package; `name` may have folders ("telegram/help.en")."""
    return PROMPTS_DIR.joinpath(*f"{name}.txt".split("/"))


@lru_cache(maxsize=64)
def load_prompt(name: str) -> str:
    """The text of `prompts/<name>.txt`, without its final newline."""
    return _template_file(name).read_text(encoding="utf-8").rstrip("\n")


def localized_prompt(name: str, language: str) -> str:
    """`prompts/<name>.<language>.txt`, or the English one when there is none."""
    if _template_file(f"{name}.{language}").is_file():
        return load_prompt(f"{name}.{language}")
    return load_prompt(f"{name}.en")


def fill_prompt(name: str, **values: str) -> str:
    """`prompts/<name>.txt` with its ${placeholders} replaced; values are not re-read as
    templates, so a passage that contains `$` or `${question}` stays as it is."""
    return Template(load_prompt(name)).safe_substitute(values)


def localized_table(name: str, language: str) -> dict[str, str]:
    """`prompts/<name>.<language>.txt` read as `key: text` lines (English when there is
    no file for the language)."""
    table: dict[str, str] = {}
    for line in localized_prompt(name, language).splitlines():
        key, sep, text = line.partition(":")
        if sep and key.strip() and not line.startswith("#"):
            table[key.strip()] = text.strip()
    return table
