"""Faults a hostile user or a failing disk brings, and what `newsbot` does with each.

    uv run python benchmarks/faults.py

Each scenario runs the installed `newsbot` in a fresh temporary folder (the offline hashing
embedding, with the vector ranking on, so that every question opens the Chroma store) and
checks what a user sees: one line per error, the exit code, and that nothing indexed was
lost. Scenarios that need root (a full disk) say so where they can't run. Prints a table
and writes it to benchmarks/faults.md.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _machine import PROJECT_ROOT, header

NEWSBOT = Path(sys.executable).with_name("newsbot")
SEEDS = PROJECT_ROOT / "seeds"
QUESTION = "What did Microsoft promise about data storage?"
TIMEOUT = 120


@dataclass
class Outcome:
    passed: bool | None  # None: the scenario could not run here
    observed: str


VERDICTS = {True: "pass", False: "**fail**", None: "not run"}


class Sandbox:
    """A temporary folder with a copy of the seeds in `news/`, a data dir, and `newsbot`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.news = root / "news"
        shutil.copytree(SEEDS, self.news, ignore=shutil.ignore_patterns("*.jsonl"))
        self.data = root / "data"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        self.env.update(
            NEWSBOT_DATA_DIR=str(self.data),
            NEWSBOT_CORPUS_DIR=str(SEEDS),
            NEWSBOT_EMBEDDING_PROVIDER="hashing",
            NEWSBOT_VECTOR_WEIGHT="1",
            RUST_BACKTRACE="1",  # a panic's backtrace, where one escapes, is then plain to see
        )

    def run(
        self, *args: str, as_user: bool = False, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        """`newsbot ARGS`; `as_user`: as a user without root's rights, even when run as root
        (in a user namespace where root's files are its own)."""
        prefix = ["unshare", "--user", "--map-user=1000"] if as_user and os.geteuid() == 0 else []
        return subprocess.run(
            [*prefix, str(NEWSBOT), *args],
            env={**self.env, **extra},
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )

    def ingested(self) -> None:
        result = self.run("ingest", str(self.news))
        assert result.returncode == 0, result.stderr

    def damage_store(self, page: int) -> None:
        with (self.data / "chroma" / "chroma.sqlite3").open("r+b") as handle:
            handle.seek(4096 * page)
            handle.write(random.Random(page).randbytes(4096 * 20))


def said(result: subprocess.CompletedProcess[str]) -> str:
    """Exit code and what stderr said, in short."""
    lines = result.stderr.strip().splitlines()
    first = lines[0] if lines else "nothing on stderr"
    if len(first) > 160:
        first = first[:160] + "…"
    more = f" (+{len(lines) - 1} lines)" if len(lines) > 1 else ""
    return f"exit {result.returncode}: {first}{more}"


def one_error_line(result: subprocess.CompletedProcess[str], code: int, *words: str) -> bool:
    lines = result.stderr.strip().splitlines()
    return (
        result.returncode == code
        and len(lines) == 1
        and lines[0].startswith("newsbot: error: ")
        and all(word in lines[0] for word in words)
    )


def damaged_store(page: int) -> Callable[[Sandbox], Outcome]:
    def scenario(box: Sandbox) -> Outcome:
        box.ingested()
        box.damage_store(page)
        asked = box.run("ask", QUESTION)
        rebuilt = box.run("ingest", "--rebuild")
        aside = sorted(p.name for p in box.data.glob("chroma.damaged-*"))
        again = box.run("ask", QUESTION)
        passed = (
            one_error_line(asked, 1, "is damaged", "`newsbot ingest --rebuild`")
            and rebuilt.returncode == 0
            and rebuilt.stdout.startswith("5 articles")
            and len(aside) == 1
            and again.returncode == 0
            and again.stderr == ""
        )
        return Outcome(
            passed,
            f"ask: {said(asked)}; ingest --rebuild: exit {rebuilt.returncode}, store moved to "
            f"{', '.join(aside) or 'nowhere'}; ask again: exit {again.returncode}",
        )

    return scenario


def truncated_store(box: Sandbox) -> Outcome:
    box.ingested()
    store = box.data / "chroma" / "chroma.sqlite3"
    os.truncate(store, store.stat().st_size // 3)
    asked = box.run("ask", QUESTION)
    rebuilt = box.run("ingest", "--rebuild")
    again = box.run("ask", QUESTION)
    passed = (
        one_error_line(asked, 1, "--rebuild") and rebuilt.returncode == 0 and again.returncode == 0
    )
    return Outcome(
        passed,
        f"ask: {said(asked)}; ingest --rebuild: exit {rebuilt.returncode}; "
        f"ask again: exit {again.returncode}",
    )


def loop_in_corpus(box: Sandbox) -> Outcome:
    (box.news / "self.txt").symlink_to("self.txt")
    asked = box.run("ask", QUESTION, NEWSBOT_CORPUS_DIR=str(box.news))
    passed = (
        asked.returncode == 0
        and f"{box.news / 'self.txt'}: skipped: a link that loops back on itself" in asked.stderr
        and "indexed 5 articles" in asked.stderr
    )
    return Outcome(passed, f"first ask: exit {asked.returncode}, " + _warned(asked))


def link_ring(box: Sandbox) -> Outcome:
    (box.news / "l1.txt").symlink_to("l2.txt")
    (box.news / "l2.txt").symlink_to("l1.txt")
    result = box.run("ingest", str(box.news))
    passed = (
        result.returncode == 0
        and result.stdout.startswith("5 articles")
        and result.stderr.count("a link that loops back on itself") == 2
    )
    return Outcome(passed, f"ingest: exit {result.returncode}, " + _warned(result))


def _warned(result: subprocess.CompletedProcess[str]) -> str:
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    return f"{len(warnings)} warning(s): " + "; ".join(w.split(": ", 2)[-1] for w in warnings)


def path_that_is_no_file(make: Callable[[Sandbox], Path]) -> Callable[[Sandbox], Outcome]:
    def scenario(box: Sandbox) -> Outcome:
        box.ingested()
        result = box.run("ingest", str(make(box)))
        listed = box.run("sources")
        passed = one_error_line(result, 2, "nothing was indexed") and "5 articles" in listed.stdout
        return Outcome(passed, said(result))

    return scenario


def fifo(box: Sandbox) -> Path:
    os.mkfifo(box.root / "pipe.txt")
    return box.root / "pipe.txt"


def link_loop(box: Sandbox) -> Path:
    (box.root / "self.txt").symlink_to("self.txt")
    return box.root / "self.txt"


def socket_in_folder(box: Sandbox) -> Outcome:
    with socket.socket(socket.AF_UNIX) as listening:
        listening.bind(str(box.news / "socket.txt"))
        result = box.run("ingest", str(box.news))
    passed = result.returncode == 0 and "socket.txt: skipped: not a regular file" in result.stderr
    return Outcome(passed, f"ingest: exit {result.returncode}, " + _warned(result))


def unreadable_folder(box: Sandbox) -> Outcome:
    if os.geteuid() == 0 and shutil.which("unshare") is None:
        return Outcome(None, "root reads every folder, and unshare is missing")
    locked = box.news / "locked"
    locked.mkdir()
    (locked / "story.txt").write_text("Locked\n\nNo one can read this.", encoding="utf-8")
    locked.chmod(0)
    try:
        result = box.run("ingest", str(box.news), as_user=True)
    finally:
        locked.chmod(0o755)
    passed = result.returncode == 0 and "locked: skipped: a folder that cannot be read" in (
        result.stderr
    )
    return Outcome(passed, f"ingest: exit {result.returncode}, " + _warned(result))


def lexical_index_lost(box: Sandbox) -> Outcome:
    box.ingested()  # the corpus dir (the project's seeds) is never ingested here
    shutil.rmtree(box.data / "lexical")
    asked = box.run("ask", QUESTION)
    rebuilt = box.run("ingest", "--rebuild")
    passed = (
        one_error_line(asked, 1, "`newsbot ingest --rebuild`")
        and rebuilt.returncode == 0
        and rebuilt.stdout.startswith("5 articles")
        and str(box.news) in box.run("sources", "--json").stdout
    )
    return Outcome(passed, f"ask: {said(asked)}; ingest --rebuild: {rebuilt.stdout.split(' (')[0]}")


def remembered_path_gone(box: Sandbox) -> Outcome:
    box.ingested()
    more = box.root / "more"
    more.mkdir()
    (more / "quokka.txt").write_text("Quokka\n\nA quokka was seen in Perth.", "utf-8")
    box.run("ingest", str(more))
    box.news.rename(box.root / "moved")
    refused = box.run("ingest", "--rebuild")
    kept = box.run("sources").stdout.strip().splitlines()[-1]
    forgotten = box.run("ingest", "--rebuild", "--forget-missing")
    passed = (
        one_error_line(refused, 2, "is gone", "--forget-missing")
        and kept.startswith("6 articles")
        and forgotten.returncode == 0
        and forgotten.stdout.startswith("1 articles")
    )
    return Outcome(
        passed,
        f"ingest --rebuild: {said(refused)}; index kept ({kept}); with --forget-missing: "
        f"exit {forgotten.returncode}",
    )


def same_names(box: Sandbox) -> Outcome:
    for town in ("x", "y"):
        folder = box.root / town
        folder.mkdir()
        (folder / "story.txt").write_text(f"{town} news\n\nThe mayor of {town}.", "utf-8")
        box.run("ingest", str(folder))
    listed = [line.split()[0] for line in box.run("sources").stdout.splitlines()[:-1]]
    return Outcome(listed == ["x/story.txt", "y/story.txt"], "sources: " + ", ".join(listed))


def empty_data_dir(box: Sandbox) -> Outcome:
    result = box.run("ingest", str(box.news), NEWSBOT_DATA_DIR="")
    passed = result.returncode == 0 and (box.root / "data" / "lexical").is_dir()
    passed = passed and not (box.root / "lexical").exists()
    return Outcome(passed, f"exit {result.returncode}, index in ./data")


def missing_corpus(box: Sandbox) -> Outcome:
    result = box.run("ask", QUESTION, NEWSBOT_CORPUS_DIR=str(box.root / "nowhere"))
    return Outcome(one_error_line(result, 2, "NEWSBOT_CORPUS_DIR"), said(result))


def reader_gone(box: Sandbox) -> Outcome:
    box.ingested()
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [str(NEWSBOT), "sources"],
            env=box.env,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(write_end)
    return Outcome(
        result.returncode == 141 and result.stderr == "",
        f"exit {result.returncode}, {len(result.stderr.splitlines())} lines on stderr",
    )


def env_fifo(box: Sandbox) -> Outcome:
    box.ingested()
    os.mkfifo(box.root / ".env")
    started = time.monotonic()
    result = box.run("sources")
    seconds = time.monotonic() - started
    passed = result.returncode == 0 and ".env is not a regular file" in result.stderr
    return Outcome(passed, f"exit {result.returncode} in {seconds:.1f} s, " + _warned(result))


def chunk_overlap(box: Sandbox) -> Outcome:
    result = box.run("sources", NEWSBOT_CHUNK_SIZE="300", NEWSBOT_CHUNK_OVERLAP="300")
    return Outcome(
        one_error_line(result, 2, "NEWSBOT_CHUNK_OVERLAP", "NEWSBOT_CHUNK_SIZE"), said(result)
    )


def disk_full(box: Sandbox) -> Outcome:
    disk = box.root / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        return Outcome(None, "mounting a small disk needs root")
    try:
        box.env["NEWSBOT_DATA_DIR"] = str(disk / "data")
        box.ingested()
        with (disk / "filler").open("wb") as filler:
            try:
                while True:
                    filler.write(b"\0" * (1 << 16))
                    filler.flush()
            except OSError:
                pass
        asked = box.run("ask", QUESTION)
        ingested = box.run("ingest", str(box.news))
        passed = one_error_line(asked, 1, "is full") and one_error_line(ingested, 1, "is full")
        passed = passed and "--rebuild" not in asked.stderr + ingested.stderr
        return Outcome(passed, f"ask: {said(asked)}; ingest: {said(ingested)}")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=True)


SCENARIOS: list[tuple[str, Callable[[Sandbox], Outcome]]] = [
    ("corrupted SQLite: Chroma panics as it opens the store", damaged_store(10)),
    ("corrupted SQLite: Chroma fails as it opens the store", damaged_store(3)),
    ("corrupted SQLite: damage found at the first read", damaged_store(50)),
    ("truncated SQLite", truncated_store),
    ("symlink loop (self.txt → self.txt) in the corpus dir, first ask", loop_in_corpus),
    ("symlink ring (l1.txt ↔ l2.txt) in an ingested folder", link_ring),
    ("a symlink loop given as PATH", path_that_is_no_file(link_loop)),
    ("/dev/zero given as PATH", path_that_is_no_file(lambda box: Path("/dev/zero"))),
    ("a FIFO given as PATH", path_that_is_no_file(fifo)),
    ("a Unix socket in an ingested folder", socket_in_folder),
    ("an unreadable sub-folder", unreadable_folder),
    ("lexical index deleted, then `ingest --rebuild` without PATH", lexical_index_lost),
    ("an ingested folder moved away, then `ingest --rebuild`", remembered_path_gone),
    ("same-named files from two ingests", same_names),
    ("`NEWSBOT_DATA_DIR=` (empty)", empty_data_dir),
    ("`NEWSBOT_CORPUS_DIR` that does not exist, first ask", missing_corpus),
    ("`newsbot sources | head`: the reader is gone", reader_gone),
    ("`.env` is a FIFO", env_fifo),
    ("`NEWSBOT_CHUNK_OVERLAP` = `NEWSBOT_CHUNK_SIZE`", chunk_overlap),
    ("disk full under the data dir", disk_full),
]


def main() -> int:
    rows = []
    started = time.monotonic()
    for name, scenario in SCENARIOS:
        with tempfile.TemporaryDirectory(prefix="newsbot-fault-") as tmp:
            try:
                outcome = scenario(Sandbox(Path(tmp)))
            except Exception as exc:  # a scenario that breaks is a failed one, not the end
                outcome = Outcome(False, f"the scenario broke: {type(exc).__name__}: {exc}")
            outcome.observed = outcome.observed.replace(tmp, "$TMP")
        rows.append((name, outcome))
        print(f"{VERDICTS[outcome.passed]:>8}  {name}", file=sys.stderr)
    ran = [outcome for _, outcome in rows if outcome.passed is not None]
    failed = sum(not outcome.passed for outcome in ran)
    table = ["| scenario | what newsbot did | verdict |", "| --- | --- | --- |"]
    for name, outcome in rows:
        cells = [name, outcome.observed, VERDICTS[outcome.passed]]
        table.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    summary = (
        f"{len(ran) - failed} of the {len(ran)} scenarios run pass "
        f"({len(rows) - len(ran)} could not run here; {time.monotonic() - started:.0f} s in all)."
    )
    report = header("Faults") + "\n" + "\n".join(table) + "\n\n" + summary + "\n"
    print(report)
    Path(__file__).with_name("faults.md").write_text(
        "# Faults\n\nCommand: `uv run python benchmarks/faults.py`\n\n" + report,
        encoding="utf-8",
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
