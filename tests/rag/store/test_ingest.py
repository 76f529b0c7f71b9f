from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from rag.store.ingest import (
    LINK_LOOP,
    MAX_ARTICLE_BYTES,
    SkippedFile,
    discover,
    passages_of,
    plan_ingest,
    read_article,
    read_regular_file,
)
from tests.conftest import ENGLISH_SEED, FRENCH_SEED, SEEDS_DIR

SIZES = {"chunk_size": 1000, "chunk_overlap": 150}


def write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


class TestReadArticle:
    def test_title_language_and_text(self) -> None:
        article = read_article(SEEDS_DIR / ENGLISH_SEED, **SIZES)
        assert article.title.startswith("Microsoft confirms interest in TitTok")
        assert article.language == "en"
        assert article.source == ENGLISH_SEED

    def test_long_first_line_title_is_shortened(self) -> None:
        article = read_article(SEEDS_DIR / FRENCH_SEED, **SIZES)
        assert article.language == "fr"
        assert len(article.title) <= 161 and article.title.endswith("…")

    def test_markdown_heading_title(self, tmp_path: Path) -> None:
        path = write(tmp_path / "a.md", "\n\n# Titre de l’article\n\nCorps du texte.")
        assert read_article(path, **SIZES).title == "Titre de l’article"

    @pytest.mark.parametrize(
        ("first_lines", "title"),
        [
            ("Breaking \u202enews", "Breaking news"),
            ("\u2067عاجل\u2069: \u202bخبر\u202c", "عاجل: خبر"),
            ("\u200b\u200c\u200d\u2060\n\u200f\nReal title", "Real title"),
            ("#\u202e\u200b\n", "The body of the article."),
        ],
    )
    def test_titles_lose_bidi_controls_and_an_invisible_one_gives_way(
        self, tmp_path: Path, first_lines: str, title: str
    ) -> None:
        path = write(tmp_path / "invisible.txt", f"{first_lines}\n\nThe body of the article.")
        assert read_article(path, **SIZES).title == title

    def test_an_article_of_invisible_characters_only_is_empty(self, tmp_path: Path) -> None:
        path = write(tmp_path / "invisible.txt", "\u200b\u200d\ufeff\u202e\n\u2066\u2069\n")
        with pytest.raises(SkippedFile, match="empty"):
            read_article(path, **SIZES)

    def test_bom_and_crlf(self, tmp_path: Path) -> None:
        path = write(tmp_path / "a.txt", "\ufeffTitle\r\nBody text here.\r\n")
        article = read_article(path, **SIZES)
        assert article.text == "Title\nBody text here.\n"
        assert article.title == "Title"

    @pytest.mark.parametrize(
        ("name", "data", "reason"),
        [
            ("empty.txt", b"", "empty"),
            ("blank.txt", b"  \n\t\n", "empty"),
            ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
            ("controls.txt", b"data\x01\x02\x03\x1a\x1b\x7f" * 40, "binary"),
            ("latin1.txt", "Sécurité nationale".encode("latin-1"), "not UTF-8"),
            ("photo.jpg", b"whatever", "not a .txt or .md"),
        ],
    )
    def test_unusable_files_say_why(
        self, tmp_path: Path, name: str, data: bytes, reason: str
    ) -> None:
        path = write(tmp_path / name, data)
        with pytest.raises(SkippedFile, match=reason):
            read_article(path, **SIZES)

    def test_control_characters_used_as_bullets_are_text(self, tmp_path: Path) -> None:
        # As in a SaudiNewsNet article: paragraphs opened by two SUB characters.
        paragraph = (
            "أيها الموت القادم من السماء لا تفتح بوابة القلب للريح التي تنثر الأكفان البيضاء"
        )
        body = "".join(f"\x1a\x1a {paragraph} ({n}).\n" for n in range(15))
        path = write(tmp_path / "obituary.txt", "غادرت من غير وداع\n\n" + body)
        assert read_article(path, **SIZES).language == "ar"

    def test_huge_file_is_refused(self, tmp_path: Path) -> None:
        path = write(tmp_path / "huge.txt", b"word " * 1_200_000)
        with pytest.raises(SkippedFile, match="too large"):
            read_article(path, **SIZES)

    @pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
    def test_utf16_with_a_bom_as_windows_writes_it(self, tmp_path: Path, encoding: str) -> None:
        text = "\ufeffTikTok a pris le contrôle d’Internet\r\nتيك توك يحرج أمازون\r\n"
        path = write(tmp_path / "windows.txt", text.encode(encoding))
        article = read_article(path, **SIZES)
        assert article.title == "TikTok a pris le contrôle d’Internet"
        assert article.text == "TikTok a pris le contrôle d’Internet\nتيك توك يحرج أمازون\n"

    def test_a_pipe_is_skipped_without_blocking(self, tmp_path: Path) -> None:
        fifo = tmp_path / "fifo.txt"
        os.mkfifo(fifo)
        with pytest.raises(SkippedFile, match="not a regular file"):
            read_article(fifo, **SIZES)

    def test_a_link_to_a_device_is_skipped_without_reading_it(self, tmp_path: Path) -> None:
        zero = tmp_path / "zero.txt"
        zero.symlink_to("/dev/zero")  # stat says 0 bytes; reading never ends
        with pytest.raises(SkippedFile, match="not a regular file"):
            read_article(zero, **SIZES)

    def test_the_size_limit_counts_bytes_read(self, tmp_path: Path) -> None:
        path = write(tmp_path / "edge.txt", b"a" * MAX_ARTICLE_BYTES)
        assert len(read_regular_file(path, MAX_ARTICLE_BYTES)) == MAX_ARTICLE_BYTES
        write(path, b"a" * (MAX_ARTICLE_BYTES + 1))
        with pytest.raises(SkippedFile, match="too large"):
            read_regular_file(path, MAX_ARTICLE_BYTES)


class TestPassages:
    def test_passages_keep_spans_and_metadata(self) -> None:
        article = read_article(SEEDS_DIR / "000_df82538c9e46931c.txt", **SIZES)
        records = passages_of(article, **SIZES)
        assert len(records) > 1
        for record in records:
            assert article.text[record.start : record.end] == record.text
            assert record.language == "ar" and record.source == article.source
            assert record.terms

    def test_a_passage_in_the_other_script_has_its_own_language(self, tmp_path: Path) -> None:
        """An Arabic news page saved with its page's scripts and styles has more Latin
        letters than Arabic ones: the article reads as English, its story must not."""
        story = "وقالت الشركة في بيان إن المحادثات مستمرة مع الحكومة الأمريكية. " * 12
        page_code = (
            ".box_vote { background: -webkit-gradient(linear, left top, left 25, from(#fff), "
            "to(#f8f8f8)); } jQuery(document).ready(function(){ site = jQuery(this).val(); }) "
        ) * 30
        path = write(tmp_path / "page.txt", f"عنوان الخبر\n\n{story}\n\n{page_code}")
        article = read_article(path, **SIZES)
        assert article.language == "en"
        records = passages_of(article, **SIZES)
        assert records[0].language == "ar"
        assert records[-1].language == "en"
        # The Arabic title, added to every later passage, is analysed as Arabic there too.
        assert all(record.terms for record in records)

    def test_english_and_french_passages_keep_their_articles_choice(self, tmp_path: Path) -> None:
        """Both are in Latin script: a French article's English quote stays French, decided
        from the whole article rather than a passage's few function words."""
        french = "L’entreprise a déclaré qu’elle poursuivait les négociations avec l’État. " * 10
        english = "The company said that it was in talks with the government and the buyers. " * 12
        path = write(tmp_path / "fr.txt", f"Titre\n\n{french}\n\n{english}\n\n{french}")
        article = read_article(path, **SIZES)
        assert article.language == "fr"
        assert {record.language for record in passages_of(article, **SIZES)} == {"fr"}

    def test_ids_are_stable_and_unique(self) -> None:
        article = read_article(SEEDS_DIR / ENGLISH_SEED, **SIZES)
        first = [r.passage_id for r in passages_of(article, **SIZES)]
        second = [r.passage_id for r in passages_of(article, **SIZES)]
        assert first == second
        assert len(set(first)) == len(first)

    def test_ids_change_with_content(self, tmp_path: Path) -> None:
        path = write(tmp_path / "a.txt", "Title\nOne sentence.")
        before = {r.passage_id for r in passages_of(read_article(path, **SIZES), **SIZES)}
        write(path, "Title\nAnother sentence.")
        after = {r.passage_id for r in passages_of(read_article(path, **SIZES), **SIZES)}
        assert before.isdisjoint(after)


class TestPlan:
    def test_skips_bad_files_and_keeps_going(self, corpus: Path) -> None:
        write(corpus / "empty.txt", b"")
        write(corpus / "bad.txt", b"\xfa\xfb\xfc")
        plan = plan_ingest([corpus], [], **SIZES)
        assert plan.added == 5 and plan.articles == 5
        assert any("empty.txt" in w and "empty" in w for w in plan.skipped)
        assert any("bad.txt" in w and "UTF-8" in w for w in plan.skipped)

    def test_unchanged_updated_removed(self, corpus: Path) -> None:
        first = plan_ingest([corpus], [], **SIZES)
        again = plan_ingest([corpus], first.records, **SIZES)
        assert (again.added, again.updated, again.removed, again.unchanged) == (0, 0, 0, 5)
        assert again.records == first.records

        (corpus / ENGLISH_SEED).write_text("New title\nA different story.", encoding="utf-8")
        (corpus / FRENCH_SEED).unlink()
        changed = plan_ingest([corpus], first.records, **SIZES)
        assert (changed.added, changed.updated, changed.removed, changed.unchanged) == (0, 1, 1, 3)
        assert FRENCH_SEED not in {r.source for r in changed.records}

    def test_articles_outside_the_ingested_paths_stay(self, corpus: Path, tmp_path: Path) -> None:
        other = tmp_path / "other"
        other.mkdir()
        write(other / "x.txt", "Other\nAn article elsewhere.")
        first = plan_ingest([corpus, other], [], **SIZES)
        only_one = plan_ingest([other / "x.txt"], first.records, **SIZES)
        assert only_one.articles == 6 and only_one.removed == 0

    def test_missing_path_is_a_warning(self, tmp_path: Path) -> None:
        plan = plan_ingest([tmp_path / "nope"], [], **SIZES)
        assert plan.articles == 0
        assert "no such file or folder" in plan.skipped[0]

    def test_devices_and_pipes_in_a_folder_are_skipped_and_named(self, tmp_path: Path) -> None:
        folder = tmp_path / "news"
        folder.mkdir()
        write(folder / "story.txt", "Title\n\nA real article about TikTok.")
        os.mkfifo(folder / "fifo.txt")
        (folder / "zero.txt").symlink_to("/dev/zero")
        plan = plan_ingest([folder], [], outside_links=True, **SIZES)
        assert plan.articles == 1
        assert sorted(plan.skipped) == [
            f"{folder / 'fifo.txt'}: skipped: not a regular file (a device, pipe or socket)",
            f"{folder / 'zero.txt'}: skipped: not a regular file (a device, pipe or socket)",
        ]

    def test_a_unix_socket_in_a_folder_is_skipped_like_a_pipe(self, tmp_path: Path) -> None:
        folder = tmp_path / "news"
        folder.mkdir()
        write(folder / "story.txt", "Title\n\nA real article about TikTok.")
        with socket.socket(socket.AF_UNIX) as listening:
            listening.bind(str(folder / "socket.txt"))
            plan = plan_ingest([folder], [], **SIZES)
        assert plan.articles == 1
        assert plan.skipped == [
            f"{folder / 'socket.txt'}: skipped: not a regular file (a device, pipe or socket)"
        ]

    def test_link_loops_are_skipped_and_named_and_the_rest_is_indexed(self, tmp_path: Path) -> None:
        folder = tmp_path / "news"
        folder.mkdir()
        write(folder / "story.txt", "Title\n\nA real article about TikTok.")
        (folder / "self.txt").symlink_to("self.txt")
        (folder / "l1.txt").symlink_to("l2.txt")
        (folder / "l2.txt").symlink_to("l1.txt")
        plan = plan_ingest([folder], [], **SIZES)
        assert plan.articles == 1
        assert sorted(plan.skipped) == [
            f"{folder / name}: skipped: {LINK_LOOP}" for name in ("l1.txt", "l2.txt", "self.txt")
        ]
        named = plan_ingest([folder / "self.txt"], plan.records, **SIZES)
        assert named.skipped == [f"{folder / 'self.txt'}: skipped: {LINK_LOOP}"]
        assert named.articles == 1 and named.removed == 0

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
    def test_an_unreadable_folder_is_skipped_and_named(self, tmp_path: Path) -> None:
        folder = tmp_path / "news"
        (folder / "locked").mkdir(parents=True)
        write(folder / "story.txt", "Title\n\nA real article about TikTok.")
        write(folder / "locked" / "hidden.txt", "Title\n\nAn article no one can read.")
        (folder / "locked").chmod(0)
        try:
            plan = plan_ingest([folder], [], **SIZES)
        finally:
            (folder / "locked").chmod(0o755)
        assert plan.articles == 1
        assert plan.skipped == [
            f"{folder / 'locked'}: skipped: a folder that cannot be read (Permission denied)"
        ]

    def test_a_device_or_pipe_named_on_its_own_is_not_a_missing_file(self, tmp_path: Path) -> None:
        os.mkfifo(tmp_path / "fifo")
        plan = plan_ingest([Path("/dev/zero"), tmp_path / "fifo"], [], **SIZES)
        assert plan.skipped == [
            "/dev/zero: skipped: not a regular file (a device, pipe or socket)",
            f"{tmp_path / 'fifo'}: skipped: not a regular file (a device, pipe or socket)",
        ]

    def test_links_to_files_outside_the_folder_are_skipped_and_named(self, tmp_path: Path) -> None:
        folder = tmp_path / "news"
        (folder / "world").mkdir(parents=True)
        secret = write(tmp_path / "secret.txt", "Private\n\nMy bank password is hunter2.")
        write(folder / "story.txt", "Title\n\nA real article about TikTok.")
        (folder / "passwords.txt").symlink_to(secret)
        (folder / "world" / "same-story.txt").symlink_to(folder / "story.txt")
        plan = plan_ingest([folder], [], **SIZES)
        assert plan.skipped == [
            f"{folder / 'passwords.txt'}: skipped: a link to a file outside {folder} "
            "(NEWSBOT_INGEST_OUTSIDE_LINKS=true follows it)"
        ]
        assert "hunter2" not in " ".join(record.text for record in plan.records)
        # A link inside the folder is followed, and the file it points at is indexed once.
        assert plan.articles == 1

        allowed = plan_ingest([folder], [], outside_links=True, **SIZES)
        assert allowed.skipped == [] and allowed.articles == 2
        assert {r.source for r in allowed.records} == {"passwords.txt", "story.txt"}

    def test_a_file_named_on_its_own_is_read_through_its_link(self, tmp_path: Path) -> None:
        target = write(tmp_path / "elsewhere.txt", "Elsewhere\n\nAn article about Amazon.")
        link = tmp_path / "link.txt"
        link.symlink_to(target)
        plan = plan_ingest([link], [], **SIZES)
        assert plan.articles == 1 and plan.skipped == []

    def test_same_named_files_are_told_apart_by_their_folder(self, tmp_path: Path) -> None:
        folder = tmp_path / "news"
        for region in ("world", "tech"):
            (folder / region).mkdir(parents=True)
            write(folder / region / "story.txt", f"{region} news\n\nAn article about TikTok.")
        plan = plan_ingest([folder], [], **SIZES)
        assert {r.source for r in plan.records} == {"tech/story.txt", "world/story.txt"}

    def test_names_with_control_characters_are_escaped_in_warnings(self, tmp_path: Path) -> None:
        write(tmp_path / "bad\x1b]0;HACKED\x07\n.txt", b"")
        plan = plan_ingest([tmp_path], [], **SIZES)
        assert plan.skipped == [f"{tmp_path}/bad\\x1b]0;HACKED\\x07\\n.txt: skipped: empty"]

    def test_a_question_set_in_the_folder_is_passed_over_silently(self, corpus: Path) -> None:
        write(corpus / "questions.jsonl", (SEEDS_DIR / "questions.jsonl").read_bytes())
        write(corpus / "report.pdf", b"%PDF-1.7 a report someone meant to index")
        write(corpus / "notes.docx", b"PK\x03\x04 notes someone meant to index")
        plan = plan_ingest([corpus], [], **SIZES)
        assert plan.articles == 5
        assert sorted(plan.skipped) == [
            f"{corpus / 'notes.docx'}: skipped: not a .txt or .md file",
            f"{corpus / 'report.pdf'}: skipped: not a .txt or .md file",
        ]
        named = plan_ingest([corpus / "questions.jsonl"], [], **SIZES)
        assert named.skipped == [f"{corpus / 'questions.jsonl'}: skipped: not a .txt or .md file"]

    def test_hidden_files_are_ignored(self, tmp_path: Path) -> None:
        write(tmp_path / ".hidden.txt", "Secret\nstuff")
        files, _, _ = discover([tmp_path])
        assert files == []
