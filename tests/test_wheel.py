"""The built wheel, installed outside the checkout and run as a user who never cloned it.

The wheel is installed into a fresh virtual environment whose dependencies come, pinned,
from `uv.lock` and uv's cache (the one `uv sync` filled), so the test runs offline and
does not change with what PyPI published today; only when the cache lacks something does
uv fetch it from the registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow

PACKAGES = ("bot", "rag", "prompts")
ENGLISH_ARTICLE = "harbour-bridge.txt"
ARABIC_ARTICLE = "olive-harvest.txt"
ARTICLES = {
    ENGLISH_ARTICLE: (
        "Harbour bridge reopens after two years of repairs\n\n"
        "The city's old harbour bridge reopened to traffic on Monday after two years of "
        "repairs that cost 48 million euros. Engineers replaced the steel cables and "
        "strengthened the towers against storms.\n\n"
        "The mayor said that buses and bicycles would use the bridge first, and that lorries "
        "heavier than twelve tonnes would stay banned until the spring inspection.\n"
    ),
    ARABIC_ARTICLE: (
        "موسم قطف الزيتون يبدأ مبكرا في الجنوب\n\n"
        "بدأ المزارعون في الجنوب قطف الزيتون هذا الأسبوع، قبل موعده المعتاد بثلاثة أسابيع، "
        "بسبب موجة الحر التي ضربت المنطقة في الصيف.\n\n"
        "وقال رئيس تعاونية المزارعين إن إنتاج زيت الزيتون هذا العام سيبلغ نحو عشرين ألف طن، "
        "أي أقل بقليل من إنتاج العام الماضي.\n"
    ),
}
# What a user's shell passes on; nothing that points Python or uv at the checkout.
PASSED_ON = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def _uv() -> str:
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "the wheel test needs uv (run the tests with `uv run pytest`)"
    return uv


def _run(command: list[str], *, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _run_uv_offline_first(args: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    """`uv <args> --offline`, from uv's cache; from the registry when the cache lacks a package."""
    offline = subprocess.run(
        [_uv(), *args, "--offline"], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    if offline.returncode != 0:
        print(f"uv {args[0]} could not work offline, using the registry:\n{offline.stderr}")
        _run([_uv(), *args], cwd=cwd, env=env)


def _uv_env(**extra: str) -> dict[str, str]:
    unwanted = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT")
    env = {name: value for name, value in os.environ.items() if name not in unwanted}
    return {**env, **extra}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("dist")
    _run_uv_offline_first(
        ["build", "--wheel", "--out-dir", str(out_dir)], cwd=PROJECT_ROOT, env=_uv_env()
    )
    (built,) = out_dir.glob("newsbot-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtual environment outside the checkout with the wheel installed."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    assert not venv.is_relative_to(PROJECT_ROOT)
    _run([_uv(), "venv", str(venv), "--python", sys.executable], cwd=venv.parent, env=_uv_env())
    python = str(venv / "bin" / "python")
    # The dependencies, at the versions the checkout is tested with; not the project itself.
    # `--link-mode copy` throughout: the NLTK data bundled with llama-index breaks when
    # uv hard-links it from the cache.
    _run_uv_offline_first(
        ["sync", "--frozen", "--no-dev", "--no-install-project", "--link-mode", "copy"],
        cwd=PROJECT_ROOT,
        env=_uv_env(UV_PROJECT_ENVIRONMENT=str(venv)),
    )
    # The wheel, whose own requirements are then checked against what is installed.
    _run_uv_offline_first(
        ["pip", "install", "--python", python, "--link-mode", "copy", str(wheel)],
        cwd=venv.parent,
        env=_uv_env(),
    )
    return venv


@dataclass
class User:
    """Someone with the installed newsbot, in a folder of their own, with their articles."""

    venv: Path
    home: Path
    corpus: Path
    env: dict[str, str]

    def newsbot(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "newsbot"), *args],
            cwd=self.home,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory, venv: Path) -> User:
    home = tmp_path_factory.mktemp("user")
    corpus = home / "articles"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    env = {name: os.environ[name] for name in PASSED_ON if name in os.environ}
    env.update(
        NEWSBOT_DATA_DIR=str(home / "newsbot-data"),
        NEWSBOT_CORPUS_DIR=str(home / "elsewhere"),  # ingest is given the folder to index
        NEWSBOT_EMBEDDING_PROVIDER="hashing",  # the bundled model embeds far more slowly
    )
    assert not home.is_relative_to(PROJECT_ROOT) and not (home / ".env").exists()
    return User(venv=venv, home=home, corpus=corpus, env=env)


def _package_files(package: str) -> set[str]:
    root = PROJECT_ROOT / package
    return {
        path.relative_to(PROJECT_ROOT).as_posix()
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def test_the_wheel_holds_the_packages_with_their_data_and_nothing_else(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in PACKAGES:
        missing = _package_files(package) - names
        assert not missing, f"the wheel lacks {sorted(missing)}"
    assert "prompts/abstain.en.txt" in names and "prompts/abstain_lexical.en.txt" in names
    assert {"prompts/telegram/help.en.txt", "prompts/telegram/small_talk.txt"} <= names
    assert {f"rag/text/stopwords/{lang}.txt" for lang in ("ar", "en", "fr")} <= names
    stray = {name for name in names if name.startswith(("tests/", "seeds/"))}
    assert not stray, f"the wheel carries {sorted(stray)}"


def test_newsbot_runs_from_the_virtual_environment_not_the_checkout(user: User) -> None:
    where = _run(
        [
            str(user.venv / "bin" / "python"),
            "-c",
            "import bot, prompts, rag; print(bot.__file__, prompts.__file__, rag.__file__)",
        ],
        cwd=user.home,
        env=user.env,
    )
    site_packages = next((user.venv / "lib").glob("python3.*/site-packages"))
    for module_file in where.split():
        assert Path(module_file).is_relative_to(site_packages), where
    help_run = user.newsbot("--help")
    assert help_run.returncode == 0, help_run.stderr
    assert "Usage: newsbot" in help_run.stdout
    for command in ("ask", "ingest", "sources", "eval", "repl", "telegram"):
        assert command in help_run.stdout


def test_newsbot_ingests_and_answers_citing_the_right_article(user: User) -> None:
    ingest = user.newsbot("ingest", str(user.corpus))
    assert ingest.returncode == 0, ingest.stderr
    assert "2 articles" in ingest.stdout and "added 2" in ingest.stdout

    english = user.newsbot("ask", "--json", "How much did the harbour bridge repairs cost?")
    assert english.returncode == 0, english.stderr
    answer = json.loads(english.stdout)
    assert answer["abstained"] is False and "48 million euros" in answer["answer"]
    assert {c["source"] for c in answer["citations"]} == {ENGLISH_ARTICLE}

    # An Arabic question, and one the articles don't cover: the refusal is a canned
    # template, the file an installed newsbot once failed to find.
    questions = "كم سيبلغ إنتاج زيت الزيتون هذا العام؟\nWho won the 2022 FIFA World Cup?\n"
    lines = user.newsbot("ask", "--json", "-", input=questions)
    assert lines.returncode == 0, lines.stderr
    arabic, off_topic = (json.loads(line) for line in lines.stdout.splitlines())
    assert arabic["language"] == "ar" and "عشرين ألف طن" in arabic["answer"]
    assert {c["source"] for c in arabic["citations"]} == {ARABIC_ARTICLE}
    # Matched by words alone over an English and an Arabic article, the refusal says so.
    template = (PROJECT_ROOT / "prompts" / "abstain_lexical.en.txt").read_text(encoding="utf-8")
    text = next(line for line in template.splitlines() if line.startswith("text: "))
    refusal = text.removeprefix("text: ").replace("${others}", "Arabic")
    assert off_topic["abstained"] is True and off_topic["citations"] == []
    assert off_topic["answer"] == refusal
