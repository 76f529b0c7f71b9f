"""Loading prompt and message templates from the project's `prompts/` folder."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from string import Template

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=64)
def load_prompt(name: str) -> str:
    """The text of `prompts/<name>.txt`, without its final newline."""
    return (PROMPTS_DIR / f"{name}.txt").read_text(encoding="utf-8").rstrip("\n")


def localized_prompt(name: str, language: str) -> str:
    """`prompts/<name>.<language>.txt`, or the English one when there is none."""
    if (PROMPTS_DIR / f"{name}.{language}.txt").is_file():
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
