"""Values in text: what a question asks for, and the figures and dates of a sentence,
read and written in Arabic, French and English."""

from __future__ import annotations

import pytest

from rag.text.values import (
    asked_noun,
    asked_quantity,
    asked_value,
    holds_value,
    render_value,
    same_value,
    values_in,
)


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many users does TikTok have in the US?", "number"),
        ("Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?", "number"),
        ("كم عدد مستخدمي تيك توك في الولايات المتحدة؟", "number"),
        ("When is the US version of TikTok expected to launch?", "date"),
        ("Quand la version américaine de TikTok sera-t-elle lancée ?", "date"),
        ("متى ستطلق النسخة الأمريكية من تيك توك؟", "date"),
        ("Why did Amazon ban TikTok?", "reason"),
        ("Pourquoi Amazon a-t-il interdit TikTok ?", "reason"),
        ("لماذا حظرت أمازون تيك توك؟", "reason"),
        ("Who wants to buy TikTok?", "name"),
        ("Avec qui le patron de Microsoft s’est-il entretenu ?", "name"),
        ("من يريد شراء تيك توك؟", "name"),
        ("What percentage of ByteDance's revenue comes from the US?", "number"),
        ("What did Microsoft promise about data storage?", None),
        ("Que deviendront les données des utilisateurs ?", None),
        ("ماذا تعهدت مايكروسوفت بخصوص البيانات؟", None),
    ],
)
def test_asked_value(question: str, kind: str | None) -> None:
    assert asked_value(question) == kind


def test_holds_value_in_three_scripts() -> None:
    assert holds_value("nearly 100 million users", "number")
    assert holds_value("نحو ١٧٠ مليون مستخدم", "number")
    assert holds_value("près de quatre-vingts millions d’utilisateurs", "number")
    assert holds_value("bis zum 15. September", "date")
    assert holds_value("بحلول سبتمبر", "date")
    assert not holds_value("Microsoft will buy TikTok", "number")
    assert holds_value("حظرت التطبيق بسبب مخاوف تتعلق بالأمن", "reason")
    assert holds_value("interdit en raison des risques", "reason")
    assert not holds_value("Microsoft will buy TikTok", "reason")


class TestFigures:
    @pytest.mark.parametrize(
        ("text", "language", "amount", "english", "french", "arabic"),
        [
            (
                "وحوالي 80 مليون مستخدم",
                "ar",
                80e6,
                "about 80 million",
                "environ 80 millions",
                "نحو 80 مليون",
            ),
            (
                "nearly 100 million users",
                "en",
                100e6,
                "nearly 100 million",
                "près de 100 millions",
                "قرابة 100 مليون",
            ),
            (
                "plus de 4,7 milliards de dollars",
                "fr",
                4.7e9,
                "more than 4.7 billion dollars",
                "plus de 4,7 milliards de dollars",
                "أكثر من 4.7 مليار دولار",
            ),
            (
                "حوالي نصف مليار مستخدم",
                "ar",
                0.5e9,
                "about half a billion",
                "environ un demi-milliard",
                "نحو نصف مليار",
            ),
        ],
    )
    def test_a_figure_is_read_and_written_in_each_language(
        self, text: str, language: str, amount: float, english: str, french: str, arabic: str
    ) -> None:
        (value,) = values_in(text, language)
        assert value.amount == pytest.approx(amount)
        assert render_value(value, "en") == english
        assert render_value(value, "fr") == french
        assert render_value(value, "ar") == arabic

    def test_dates_are_read_in_each_language_and_agree(self) -> None:
        (french,) = values_in("le 15 septembre au plus tard", "fr")
        (english,) = values_in("by September 15", "en")
        (arabic,) = values_in("بحلول 15 سبتمبر", "ar")
        assert same_value(french, english) and same_value(english, arabic)
        (other,) = values_in("سبتمبر 2025", "ar")
        assert render_value(other, "fr") == "septembre 2025"
        assert render_value(english, "ar") == "15 سبتمبر"

    def test_names_with_digits_are_not_figures(self) -> None:
        assert values_in("the M2 project, 5G and COVID-19", "en") == ()

    @pytest.mark.parametrize(
        ("question", "quantity", "noun"),
        [
            ("How many TikTok users are there in the United States?", "count", "users"),
            ("Combien d’utilisateurs TikTok compte-t-il aux États-Unis ?", "count", "utilisateurs"),
            ("كم عدد مستخدمي تيك توك في الولايات المتحدة؟", "count", "مستخدمي"),
            ("How much was TikTok's US business estimated to be worth?", "money", None),
            ("Combien coûteraient les nouveaux serveurs ?", "money", None),
            ("ما نسبة الإيرادات الأميركية؟", "percent", None),
        ],
    )
    def test_what_a_number_question_counts(
        self, question: str, quantity: str, noun: str | None
    ) -> None:
        assert asked_quantity(question) == quantity
        assert asked_noun(question) == noun
