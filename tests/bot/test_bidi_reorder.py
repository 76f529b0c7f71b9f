"""Visual reordering, checked against the python-bidi package (the Rust unicode-bidi crate)."""

from __future__ import annotations

import random
import unicodedata

import pytest
from bidi import get_display

from bot.bidi_reorder import has_rtl, is_rtl_paragraph, reorder, visual_line
from tests.conftest import SEEDS_DIR


def _without_marks(text: str) -> str:
    # Left out of the comparison: combining marks, which python-bidi leaves before their
    # letter (it has no rule L3), and invisible format characters such as ZWNJ, whose place
    # the standard leaves open (section 5.2 of UAX #9).
    return "".join(char for char in text if unicodedata.category(char) not in ("Mn", "Me", "Cf"))


def _logical_order(text: str, rtl: bool) -> str:
    """The characters in our visual order, before mirroring (python-bidi does not mirror)."""
    return "".join(text[position] for position in visual_line(text, rtl).order)


def _reference(text: str, rtl: bool) -> str:
    return _without_marks(get_display(text, base_dir="R" if rtl else "L"))


SEED_LINES = [
    line
    for path in sorted(SEEDS_DIR.glob("*.txt"))
    for line in path.read_text(encoding="utf-8").splitlines()
    if line.strip()
]


@pytest.mark.parametrize("rtl", [False, True])
def test_every_seed_line_matches_the_reference(rtl: bool) -> None:
    assert any(has_rtl(line) for line in SEED_LINES)
    for line in SEED_LINES:
        assert _without_marks(_logical_order(line, rtl)) == _reference(line, rtl), line


def test_random_mixed_text_matches_the_reference() -> None:
    # Letters of both directions, both kinds of digits, separators, terminators, brackets,
    # marks and explicit marks: the character classes the algorithm treats differently.
    alphabet = [
        *"abcXYZ",
        *"تيكومأ",
        "\u05d0",
        *"٠١٢",
        *"0123",
        *"   ",
        *".,:/-+%$#()[]{}«»\"'!؟،",
        "\u064b",
        "\u200e",
        "\u200f",
        "\u200c",
    ]
    generator = random.Random(5)
    for _ in range(4000):
        text = "".join(generator.choice(alphabet) for _ in range(generator.randint(1, 30)))
        for rtl in (False, True):
            assert _without_marks(_logical_order(text, rtl)) == _reference(text, rtl), text


def test_arabic_sentence_reads_right_to_left_with_numbers_left_to_right() -> None:
    text = "باعت الشركة 100 مليون نسخة"
    shown = reorder(text)
    assert shown == "ةخسن نويلم 100 ةكرشلا تعاب"
    assert sorted(visual_line(text).order) == list(range(len(text)))


def test_brackets_are_mirrored_in_right_to_left_runs() -> None:
    assert reorder("قال (مايكروسوفت) [1]") == "[1] (تفوسوركيام) لاق"
    assert reorder("«أمازون»") == "«نوزامأ»"


def test_combining_marks_stay_after_their_letter() -> None:
    shown = reorder("وفقًا")
    assert shown == "اقًفو"  # the tanween still follows the qaf it belongs to


def test_left_to_right_text_is_unchanged() -> None:
    text = "Microsoft (MSFT) paid $10 on 15/09 — «TikTok»"
    assert reorder(text) == text
    assert visual_line(text).order == list(range(len(text)))


def test_mixed_line_in_a_left_to_right_paragraph() -> None:
    assert reorder("[1] تيك توك TikTok", rtl=False) == "[1] كوت كيت TikTok"


def test_paragraph_direction_comes_from_the_first_strong_character() -> None:
    assert is_rtl_paragraph("2020: أمازون و TikTok")
    assert not is_rtl_paragraph("TikTok و أمازون")
    assert not is_rtl_paragraph("123 ...")
    assert has_rtl("TikTok تيك") and not has_rtl("TikTok 123")
