"""Reading article files and planning what an ingest changes.

Nothing here touches an index: `plan_ingest` compares what is on disk with the
catalogue of indexed passages and says which passages the index should hold next.
"""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.safe_text import escaped_name, visible, without_bidi_controls
from rag.store.lexical import PassageRecord
from rag.text.analysis import analyzer_for
from rag.text.chunking import chunk_spans
from rag.text.language import detect_language

SUPPORTED_SUFFIXES = frozenset({".txt", ".md"})
# A question set (`newsbot eval`'s JSON Lines, such as seeds/questions.jsonl) kept beside
# the articles it asks about: not an article, and not a file anyone meant to index.
QUESTION_SET_SUFFIXES = frozenset({".jsonl"})
MAX_ARTICLE_BYTES = 5_000_000
TITLE_MAX_CHARS = 160
# Bump when chunking or analysis changes, so that re-ingesting re-processes every article.
PIPELINE_VERSION = "6"
CONTROL_SHARE_OF_BINARY = 0.05
NOT_A_REGULAR_FILE = "not a regular file (a device, pipe or socket)"
LINK_LOOP = "a link that loops back on itself"
# Control characters (Unicode category Cc) other than tab and line breaks.
_CONTROL_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class SkippedFile(Exception):
    """A file that cannot be ingested; the message says why, in a few words."""


@dataclass(frozen=True)
class Article:
    path: str
    source: str
    text: str
    title: str
    language: str
    doc_hash: str
    root: str = ""

    @property
    def article_id(self) -> str:
        return hashlib.sha256(self.path.encode()).hexdigest()[:24]


@dataclass
class IngestPlan:
    """The passages the index should hold after the ingest, and the counts to report."""

    records: list[PassageRecord]
    articles: int
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)


def _title_of(text: str) -> str:
    """The article's first visible line, without bidirectional controls, shortened; "" when
    no line shows anything."""
    for line in text.splitlines():
        line = without_bidi_controls(line).strip().lstrip("#").strip()
        if visible(line):
            if len(line) <= TITLE_MAX_CHARS:
                return line
            cut = line.rfind(" ", 0, TITLE_MAX_CHARS)
            return line[: cut if cut > TITLE_MAX_CHARS // 2 else TITLE_MAX_CHARS].rstrip() + "…"
    return ""


def read_regular_file(path: Path, limit: int, *, follow_links: bool = True) -> bytes:
    """The bytes of a regular file, at most `limit` of them.

    A device, pipe or socket is never read: `/dev/zero` never ends and a pipe blocks until
    someone writes. The file is opened without blocking and checked once open, so that a
    link swapped in between cannot slip through; the limit counts the bytes actually read,
    not what `stat` claims. Without `follow_links`, a link at `path` itself is refused, so
    a path checked once resolved cannot be swapped for a link before it is read.
    """
    follow = 0 if follow_links else os.O_NOFOLLOW
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | follow)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a Unix socket cannot be opened at all
            raise SkippedFile(NOT_A_REGULAR_FILE) from None
        raise
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise SkippedFile(NOT_A_REGULAR_FILE)
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise SkippedFile(f"too large (over {limit / 1e6:.0f} MB, the limit)")
    return data


def decode_article(data: bytes) -> str:
    """The text of an article file: UTF-8, with or without a BOM, or UTF-16 with a BOM (as
    Windows tools write it). Raises SkippedFile for binary or undecodable content."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SkippedFile(f"not UTF-16 text (invalid bytes at offset {exc.start})") from None
        if "\x00" in text:
            raise SkippedFile("binary content (NUL characters)")
        return text
    if b"\x00" in data:
        raise SkippedFile("binary content (NUL bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SkippedFile(f"not UTF-8 text (invalid byte at offset {exc.start})") from None


def read_article(
    path: Path,
    *,
    chunk_size: int,
    chunk_overlap: int,
    source: str | None = None,
    resolved: Path | None = None,
    root: str = "",
) -> Article:
    """Read one article file, or raise SkippedFile saying why it cannot be used.

    `source` is its name in the folder it was found in (by default the file's name), and
    `root` the path that was ingested (see `root_of`); `resolved`, the file's real path
    once its links were checked, is read without following links again.
    """
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise SkippedFile("not a .txt or .md file")
    if resolved is None:
        resolved = path.resolve()
        data = read_regular_file(path, MAX_ARTICLE_BYTES)
    else:
        data = read_regular_file(resolved, MAX_ARTICLE_BYTES, follow_links=False)
    source = source or path.name
    text = decode_article(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not visible(text):
        raise SkippedFile("empty")
    head = text[:10000]
    controls = len(_CONTROL_RE.findall(head))
    # Some news sites use a control character as a bullet; binary data is full of them.
    if controls > 20 and controls > CONTROL_SHARE_OF_BINARY * len(head):
        raise SkippedFile("binary content (control characters)")
    digest = hashlib.sha256(data)
    # The name and root are part of what is indexed: ingesting the folder above renames
    # its articles.
    digest.update(f"|{chunk_size}|{chunk_overlap}|{PIPELINE_VERSION}|{source}|{root}".encode())
    return Article(
        path=str(resolved),
        source=source,
        text=text,
        title=_title_of(text) or path.stem,
        language=detect_language(text[:20000]),
        doc_hash=digest.hexdigest()[:32],
        root=root,
    )


def passage_language(text: str, article_language: str) -> str:
    """A passage's language: its article's, unless the passage is written in the other
    script. An Arabic news page can end in a page's scripts and styles, whose Latin letters
    outnumber the story's; labelled English, its Arabic story was measured against the
    English passages' background, and came first for any Arabic question. English and
    French share a script: that choice is the article's, told from more text."""
    found = detect_language(text)
    if found == "und" or (found == "ar") == (article_language == "ar"):
        return article_language
    return found


def passages_of(article: Article, *, chunk_size: int, chunk_overlap: int) -> list[PassageRecord]:
    """Cut an article into passages, each keeping its span and its article's metadata."""
    analyzed_titles: dict[str, tuple[list[str], list[str]]] = {}
    records = []
    for span in chunk_spans(article.text, chunk_size, chunk_overlap):
        text = article.text[span.start : span.end]
        language = passage_language(text, article.language)
        analyzer = analyzer_for(language)
        words, terms = analyzer.words_and_terms(text)
        if span.start > 0:
            # The title says what every passage of the article is about.
            if language not in analyzed_titles:
                analyzed_titles[language] = analyzer.words_and_terms(article.title)
            title_words, title_terms = analyzed_titles[language]
            words, terms = title_words + words, title_terms + terms
        identity = f"{article.article_id}\0{span.start}\0{span.end}\0{text}"
        records.append(
            PassageRecord(
                passage_id=hashlib.sha256(identity.encode()).hexdigest()[:32],
                article_id=article.article_id,
                source=article.source,
                path=article.path,
                doc_hash=article.doc_hash,
                title=article.title,
                language=language,
                start=span.start,
                end=span.end,
                text=text,
                terms=" ".join(terms),
                words=" ".join(words),
                root=article.root,
                name=article.source,
            )
        )
    return records


@dataclass(frozen=True)
class FoundFile:
    """A file to read: where it was found, its name in the ingested folder (its file name
    when named on its own), that ingested path (`root_of`), and its real path."""

    path: Path
    source: str
    root: str
    resolved: Path | None = None


def root_of(path: Path) -> str:
    """How an ingested path is remembered: a folder, resolved, ends with "/"; a file named on
    its own is kept as named (made absolute), so that its name stays its link's."""
    if path.is_dir():
        return str(path.resolve()).rstrip("/") + "/"
    return str(path.absolute())


def root_path(root: str) -> Path:
    """The path an ingest was given, from its `root_of`."""
    return Path(root.rstrip("/") or "/")


def discover(
    paths: Sequence[Path], *, outside_links: bool = False
) -> tuple[list[FoundFile], list[Path], list[str]]:
    """Files to read, folders whose vanished files should be dropped, and warnings.

    A file in a folder is named by its path relative to that folder, so that two
    `story.txt` in different folders differ. A link in a folder is followed only to a file
    inside that folder, unless `outside_links`: ingesting a folder must not publish
    whatever its links point at. A file named on its own is read wherever it is. Hidden
    files and question sets (`QUESTION_SET_SUFFIXES`) in a folder are passed over in
    silence; a file named on its own is always tried (a question set, with a warning).
    """
    files: list[FoundFile] = []
    folders: list[Path] = []
    warnings: list[str] = []

    def unreadable_folder(exc: OSError) -> None:
        warnings.append(
            f"{escaped_name(str(exc.filename))}: skipped: a folder that cannot be read "
            f"({exc.strerror or exc})"
        )

    for path in paths:
        if path.is_dir():
            root = path.resolve()
            folders.append(root)
            remembered = root_of(path)
            for walked, dirnames, filenames in os.walk(path, onerror=unreadable_folder):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith(".") or Path(name).suffix.lower() in QUESTION_SET_SUFFIXES:
                        continue
                    file = Path(walked) / name
                    resolved = resolved_path(file)
                    if resolved is None:
                        warnings.append(f"{escaped_name(str(file))}: skipped: {LINK_LOOP}")
                        continue
                    if not outside_links and not resolved.is_relative_to(root):
                        warnings.append(
                            f"{escaped_name(str(file))}: skipped: a link to a file outside "
                            f"{escaped_name(str(path))} (NEWSBOT_INGEST_OUTSIDE_LINKS=true "
                            "follows it)"
                        )
                        continue
                    source = file.relative_to(path).as_posix()
                    files.append(FoundFile(file, source, remembered, resolved))
        elif path.is_file():
            files.append(FoundFile(path, path.name, root_of(path)))
        else:
            warnings.append(f"{escaped_name(str(path))}: skipped: {unusable_path(path)}")
    return files, folders, warnings


def resolved_path(path: Path) -> Path | None:
    """`path` with its links resolved; None for a link that loops back on itself."""
    try:
        return path.resolve()
    except RuntimeError:  # Python before 3.13 reports a loop so
        return None


def loops(path: Path) -> bool:
    """Whether `path` is a link that loops back on itself (`l1` -> `l2` -> `l1`)."""
    try:
        path.stat()
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def unusable_path(path: Path) -> str:
    """Why a path named to an ingest, neither a folder nor a regular file, can't be read."""
    if loops(path):
        return LINK_LOOP
    if os.path.lexists(path) and path.exists():
        return NOT_A_REGULAR_FILE
    return "no such file or folder"


def plan_ingest(
    paths: Sequence[Path],
    indexed: Iterable[PassageRecord],
    *,
    chunk_size: int,
    chunk_overlap: int,
    outside_links: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> IngestPlan:
    """Compare the files under `paths` with the indexed passages."""
    by_path: dict[str, list[PassageRecord]] = {}
    for record in indexed:
        by_path.setdefault(record.path, []).append(record)

    files, folders, warnings = discover(paths, outside_links=outside_links)
    plan = IngestPlan(records=[], articles=0, skipped=warnings)
    seen: set[str] = set()
    for done, found in enumerate(files, 1):
        if progress:
            progress(done, len(files))
        try:
            article = read_article(
                found.path,
                chunk_size=chunk_size,
                chunk_overlap=chunk_overlap,
                source=found.source,
                resolved=found.resolved,
                root=found.root,
            )
        except SkippedFile as exc:
            plan.skipped.append(f"{escaped_name(str(found.path))}: skipped: {exc}")
            continue
        except OSError as exc:
            reason = None
            if exc.errno == errno.ELOOP:
                reason = LINK_LOOP if loops(found.path) else "changed into a link while being read"
            plan.skipped.append(
                f"{escaped_name(str(found.path))}: skipped: {reason or exc.strerror or exc}"
            )
            continue
        if article.path in seen:
            continue
        seen.add(article.path)
        old = by_path.get(article.path)
        if old and old[0].doc_hash == article.doc_hash:
            plan.records.extend(old)
            plan.unchanged += 1
        else:
            records = passages_of(article, chunk_size=chunk_size, chunk_overlap=chunk_overlap)
            plan.records.extend(records)
            if old:
                plan.updated += 1
            else:
                plan.added += 1

    missing = {str(resolved_path(path) or path.absolute()) for path in paths if not path.exists()}
    for path, records in by_path.items():
        if path in seen:
            continue
        vanished = not Path(path).exists() and (
            path in missing or any(Path(path).is_relative_to(folder) for folder in folders)
        )
        if vanished:
            plan.removed += 1
        else:
            # Unreadable now or outside this ingest's paths: what was indexed stays.
            plan.records.extend(records)
    plan.articles = len({record.path for record in plan.records})
    return plan
