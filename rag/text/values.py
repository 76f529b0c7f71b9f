"""What a question asks for (a number, a date, a name, a reason), and the figures and dates
sentences give: so that the sentence holding the asked-for thing leads, and sources that
give different figures are shown side by side.

Figures are read in Arabic, French and English: "nearly 100 million users", "environ 80
millions d’utilisateurs", "نحو 170 مليون مستخدم", "$15 billion", "68%", "15 septembre",
"September 15", "سبتمبر 2025". A figure quoted from an article in another language than
the question's is written in the question's language (`render_value`), with the words of
prompts/values.<language>.txt.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from string import Template
from typing import Literal

from prompts import localized_table
from rag.text.analysis import LANGUAGES, analyzer_for, normalize
from rag.text.language import detect_language

ValueKind = Literal["count", "money", "percent", "date"]
Quantity = Literal["count", "money", "percent", "any"]

# -- what a question asks for ---------------------------------------------------------

# "How many", "how much", "what percentage", "combien", "quel pourcentage", "كم", "ما نسبة" …
_ASKS_NUMBER_RE = re.compile(
    r"\b(how (many|much|long|old)|what (percentage|proportion|share|number|amount)|combien|"
    r"quel(le)?s? (nombre|montant|prix|âge|pourcentage|part|proportion))\b|(^|\s)كم(\s|$)|"
    r"(^|\s)(ما|كم) (عدد|قيمة|مبلغ|سعر|نسبة)",
    re.IGNORECASE,
)
_ASKS_DATE_RE = re.compile(
    r"\b(when|what (year|date|day|month)|quand|en quelle année|à quelle date|quelle date)\b|"
    r"(^|\s)متى(\s|$)|(في|ب)\s?(أي|اي) (عام|سنة|يوم|شهر|تاريخ)",
    re.IGNORECASE,
)
_ASKS_REASON_RE = re.compile(
    r"\b(why|for what reason|pourquoi|pour quelle raison)\b|"
    r"(^|\s)(لماذا|لم|ما سبب|ما هو سبب)(\s|$)",
    re.IGNORECASE,
)
# "Who", "qui" opening the question or after a preposition ("avec qui"), "من" opening it.
_ASKS_NAME_RE = re.compile(
    r"\bwho(m|se)?\b|^\s*(qui|(avec|à|a|pour|de|par|chez|contre) qui)\b|^\s*(و?من)\s",
    re.IGNORECASE,
)
_ASKS_PERCENT_RE = re.compile(
    r"\b(percentage|per ?cent|proportion|pourcentage)\b|(^|\s)(ما|كم) نسبة|%", re.IGNORECASE
)
_ASKS_COUNT_RE = re.compile(
    r"\b(how many|combien (de|d['’])|quel(le)?s? nombre)|(^|\s)(كم|ما) (يبلغ )?عدد",
    re.IGNORECASE,
)
_ASKS_MONEY_RE = re.compile(
    r"\b(how much|worth|cost|costs|pay|paid|price|revenue|earn\w*|co[uû]t\w*|pay[ée]\w*|"
    r"prix|valeur|vaut|valait|rapport\w*|chiffre d['’]affaires)\b|يدر|تكلف|سعر|قيمة|دفع|"
    r"أرباح|إيرادات|مبلغ",
    re.IGNORECASE,
)
# The thing counted: "how many TikTok users are", "combien d’utilisateurs", "كم عدد مستخدمي".
_ASKED_NOUN_RES = (
    re.compile(
        r"\bhow many\s+(?:[\w’'-]+\s+){0,3}?([\w’'-]+)\s+(?:are|is|were|was|do|does|did|have|"
        r"has|had|per|in|on|at|will|would|can|could|should|that|who|live|use|used)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bhow many\s+([\w’'-]+)", re.IGNORECASE),
    re.compile(r"\bcombien\s+(?:de\s+|d['’]\s*)([\w-]+)", re.IGNORECASE),
    re.compile(r"\bquel(?:le)?s?\s+nombre\s+(?:de\s+|d['’]\s*)([\w-]+)", re.IGNORECASE),
    re.compile(r"(?:^|\s)(?:كم|ما)\s+(?:يبلغ\s+|هو\s+)?عدد\s+(\S+)"),
)

_REASON_RE = re.compile(
    r"\b(because|due to|since|as a result|after|over concerns?|parce que|car|en raison|à cause|"
    r"suite à|après)\b|بسبب|لأن|نظرا|بعد أن|إثر|مخاوف",
    re.IGNORECASE,
)
_DIGIT_RE = re.compile(r"\d")
_NUMBER_WORDS_RE = re.compile(
    r"\b(million|millions|billion|billions|milliard|milliards|thousand|mille|hundred|cent)\b|"
    r"مليون|ملايين|مليار|ألف|آلاف",
    re.IGNORECASE,
)
_WORD_RE = re.compile(r"[^\W_]+")
# Capitalised words, not codes with digits ("M2", "5G").
_NAME_WORD = r"[A-Z][^\W\d]*(?:['’-][^\W\d]+)*"
_CAPITALIZED_RE = re.compile(rf"\b{_NAME_WORD}(?:\s+{_NAME_WORD})*\b(?!\d)")


def asked_value(question: str) -> str | None:
    """What the question asks for, when it is a "number", a "date", a "name" or a "reason"."""
    if _ASKS_DATE_RE.search(question):
        return "date"
    if _ASKS_NUMBER_RE.search(question):
        return "number"
    if _ASKS_NAME_RE.search(question):
        return "name"
    if _ASKS_REASON_RE.search(question):
        return "reason"
    return None


_OPENS_WITH_DATE_RE = re.compile(
    r"^\W*(when|what (year|date|day|month)|in what (year|month)|on what (date|day)|quand|"
    r"en quelle année|à quelle date|quelle date|depuis quand|متى|في (أي|اي) (عام|سنة|يوم|شهر|"
    r"تاريخ)|(ما|في) (هو )?تاريخ)",
    re.IGNORECASE,
)


def asks_date_first(question: str) -> bool:
    """Whether the question opens by asking when: "When was…", "Quand…", "متى…"."""
    return bool(_OPENS_WITH_DATE_RE.search(question))


def asked_quantity(question: str) -> Quantity:
    """For a number question: a percentage, a count ("how many"), an amount of money, or any."""
    if _ASKS_PERCENT_RE.search(question):
        return "percent"
    if _ASKS_COUNT_RE.search(question):
        return "count"
    if _ASKS_MONEY_RE.search(question):
        return "money"
    return "any"


def asked_noun(question: str) -> str | None:
    """The thing a how-many question counts ("users" in "How many TikTok users are there?")."""
    for pattern in _ASKED_NOUN_RES:
        match = pattern.search(question)
        if match:
            return match.group(1).strip("’'-")
    return None


def names_in(sentence: str, question: str = "") -> list[str]:
    """Capitalised words and runs of them ("Zhang Yiming") that the question does not
    already hold; a sentence's first word counts unless it is a common word."""
    known = {normalize(word) for word in _WORD_RE.findall(question)}
    found = []
    for match in _CAPITALIZED_RE.finditer(sentence):
        words = [w for w in match.group().split() if normalize(w.strip("’'-")) not in known]
        if match.start() == _first_word_start(sentence) and words and words[0] == match.group(0):
            # "The", "In", "Among": the first word is capitalised anyway.
            language = "fr" if detect_language(sentence) == "fr" else "en"
            if not analyzer_for(language).terms(words[0]):
                words = words[1:]
        if words:
            found.append(" ".join(words))
    return found


def _first_word_start(sentence: str) -> int:
    match = re.search(r"\w", sentence)
    return match.start() if match else 0


def holds_value(sentence: str, kind: str, question: str = "") -> bool:
    """Whether `sentence` gives a value of the kind asked for."""
    if kind == "date":
        return any(value.kind == "date" for value in values_in(sentence)) or bool(
            _DIGIT_RE.search(sentence)
        )
    if kind == "reason":
        return bool(_REASON_RE.search(sentence))
    if kind == "name":
        return bool(names_in(sentence, question))
    return bool(_DIGIT_RE.search(sentence) or _NUMBER_WORDS_RE.search(sentence))


# -- figures and dates in a sentence ------------------------------------------------------

_APPROXIMATIONS: dict[str, tuple[str, ...]] = {
    "about": (
        "about",
        "around",
        "approximately",
        "roughly",
        "some",
        "an estimated",
        "environ",
        "quelque",
        "approximativement",
        "autour de",
        "حوالي",
        "حوالى",
        "نحو",
        "تقريبا",
        "ما يقارب",
        "ما يقرب من",
    ),
    "nearly": ("nearly", "almost", "close to", "près de", "presque", "قرابة", "زهاء"),
    "over": ("more than", "over", "plus de", "أكثر من", "ما يزيد على", "ما يزيد عن"),
    "under": ("less than", "fewer than", "under", "moins de", "أقل من"),
}
_APPROXIMATION_OF = {
    normalize(word): kind for kind, words in _APPROXIMATIONS.items() for word in words
}
_MAGNITUDES = {
    "thousand": 1e3,
    "thousands": 1e3,
    "mille": 1e3,
    "ألف": 1e3,
    "الف": 1e3,
    "آلاف": 1e3,
    "million": 1e6,
    "millions": 1e6,
    "مليون": 1e6,
    "ملايين": 1e6,
    "billion": 1e9,
    "billions": 1e9,
    "milliard": 1e9,
    "milliards": 1e9,
    "مليار": 1e9,
    "مليارات": 1e9,
}
_MAGNITUDE_OF = {normalize(word): size for word, size in _MAGNITUDES.items()}
_MAGNITUDE_NAMES = {1e3: "thousand", 1e6: "million", 1e9: "billion"}
_CURRENCIES = {
    "$": "dollar",
    "dollar": "dollar",
    "dollars": "dollar",
    "دولار": "dollar",
    "دولارات": "dollar",
    "€": "euro",
    "euro": "euro",
    "euros": "euro",
    "يورو": "euro",
    "£": "pound",
    "pound": "pound",
    "pounds": "pound",
    "livre": "pound",
    "livres": "pound",
    "جنيه": "pound",
    "جنيهات": "pound",
}
_PERCENT_WORDS = ("%", "٪", "percent", "per cent", "pour cent", "بالمئة", "بالمائة", "في المئة")

_APPROX_RE = "|".join(
    sorted((re.escape(word) for words in _APPROXIMATIONS.values() for word in words), key=len)[::-1]
)
_MAGNITUDE_RE = "|".join(sorted(map(re.escape, _MAGNITUDES), key=len)[::-1])
_NUMBER_VALUE_RE = re.compile(
    rf"(?:(?<![\w])(?:و)?(?P<approx>{_APPROX_RE})\s+)?"
    r"(?P<currency>[$€£]\s?)?"
    r"(?<![A-Za-z\d.,/-])(?P<number>\d+(?:[.,]\d+)*)(?![A-Za-z\d])"
    rf"(?:\s*(?P<magnitude>{_MAGNITUDE_RE})(?![\w]))?"
    rf"(?P<percent>\s*(?:{'|'.join(map(re.escape, _PERCENT_WORDS))}))?",
    re.IGNORECASE,
)
_FRACTION_VALUE_RE = re.compile(
    rf"(?:(?<![\w])(?:و)?(?P<approx>{_APPROX_RE})\s+)?"
    r"(?<![\w])(?P<fraction>half an?|half|une? demi-|demi-|نصف)\s*"
    rf"(?P<magnitude>{_MAGNITUDE_RE})(?![\w])",
    re.IGNORECASE,
)
# After a figure, the thing counted: "users", "d’utilisateurs", "من المستخدمين", "مستخدم".
_COUNTED_RE = re.compile(
    r"\s*(?:(?:of|de|des|du|من)\s+|d['’]\s*)?(?P<noun>[^\W\d_][\w’'-]*)(?:\s+(?P<next>[^\W\d_][\w’'-]*))?"
)
_YEAR = r"(?:1[89]|20)\d{2}"


@dataclass(frozen=True)
class Value:
    """A figure or a date as a sentence gives it."""

    start: int
    end: int
    kind: ValueKind
    written: str = ""
    amount: float | None = None
    date: tuple[int | None, int | None, int | None] | None = None
    approximation: str | None = None
    number: str = ""
    magnitude: float | None = None
    half: bool = False
    currency: str | None = None
    noun: str = ""
    noun_terms: tuple[str, ...] = ()


@cache
def _months() -> dict[str, int]:
    """Month names of every language the project speaks, to their number."""
    months: dict[str, int] = {}
    for language in LANGUAGES:
        for number, name in enumerate(localized_table("values", language)["months"].split(), 1):
            months[normalize(name)] = number
    return months


@cache
def _date_patterns() -> tuple[re.Pattern[str], ...]:
    names = "|".join(sorted(_month_spellings(), key=len)[::-1])
    month = rf"(?P<month>{names})"
    return (
        re.compile(
            rf"(?<![\w])(?P<day>\d{{1,2}})(?:er|st|nd|rd|th)?\s+{month}(?![\w])"
            rf"(?:,?\s+(?P<year>{_YEAR})(?!\d))?",
            re.IGNORECASE,
        ),
        re.compile(
            rf"(?<![\w]){month}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?(?![\w])"
            rf"(?:,?\s+(?P<year>{_YEAR})(?!\d))?",
            re.IGNORECASE,
        ),
        re.compile(rf"(?<![\w]){month}\s+(?P<year>{_YEAR})(?!\d)", re.IGNORECASE),
        re.compile(rf"(?<![\w.,])(?P<year>{_YEAR})(?![\w%٪]|[.,]\d)", re.IGNORECASE),
        re.compile(rf"(?<![^\W\d_]){month}(?![\w])", re.IGNORECASE),
    )


@cache
def _month_spellings() -> tuple[str, ...]:
    spellings = set()
    for language in LANGUAGES:
        for name in localized_table("values", language)["months"].split():
            spellings.add(re.escape(name))
    return tuple(spellings)


_DIGIT_TABLE = str.maketrans(
    {**{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)}}
)


def _parse_number(written: str) -> float:
    digits = written.translate(_DIGIT_TABLE)
    parts = re.split(r"[.,]", digits)
    if len(parts) == 1:
        return float(digits)
    separator = digits[len(parts[0])]
    grouped = all(len(part) == 3 for part in parts[1:])
    if grouped and (len(parts) > 2 or separator == ","):
        return float("".join(parts))
    return float("".join(parts[:-1]) + "." + parts[-1])


def _overlaps(spans: Sequence[tuple[int, int]], start: int, end: int) -> bool:
    return any(start < e and s < end for s, e in spans)


def _counted(text: str, end: int, language: str) -> tuple[str, tuple[str, ...], int]:
    """The noun a figure counts, its terms with the word after it, and where it ends."""
    match = _COUNTED_RE.match(text, end)
    if not match:
        return "", (), end
    noun = match.group("noun")
    analyzer = analyzer_for(language)
    terms = tuple(analyzer.terms(noun))
    if match.group("next"):
        terms += tuple(analyzer.terms(match.group("next")))
    return noun, terms, match.end("noun")


@lru_cache(maxsize=8192)
def values_in(text: str, language: str = "en") -> tuple[Value, ...]:
    """The dates and figures of `text`, in order (kept: sentences come back)."""
    found: list[Value] = []
    taken: list[tuple[int, int]] = []
    months = _months()
    for pattern in _date_patterns():
        for match in pattern.finditer(text):
            if _overlaps(taken, match.start(), match.end()):
                continue
            groups = match.groupdict()
            if groups.get("year") and not groups.get("month") and not groups.get("day"):
                # "2016" is a year; "2016 million" or "2016 users" is not.
                after = text[match.end() : match.end() + 12].lower().strip()
                if any(after.startswith(m) for m in _MAGNITUDES):
                    continue
            day = int(groups["day"]) if groups.get("day") else None
            month = months.get(normalize(groups["month"])) if groups.get("month") else None
            year = int(groups["year"]) if groups.get("year") else None
            if day is not None and not 1 <= day <= 31:
                continue
            taken.append((match.start(), match.end()))
            found.append(
                Value(
                    match.start(),
                    match.end(),
                    "date",
                    written=match.group(),
                    date=(year, month, day),
                )
            )
    for pattern in (_NUMBER_VALUE_RE, _FRACTION_VALUE_RE):
        for match in pattern.finditer(text):
            if _overlaps(taken, match.start(), match.end()):
                continue
            groups = match.groupdict()
            magnitude = _MAGNITUDE_OF.get(normalize(groups["magnitude"] or ""))
            half = bool(groups.get("fraction"))
            number = groups.get("number") or ""
            amount = (_parse_number(number) if number else 0.5) * (magnitude or 1)
            noun, terms, noun_end = _counted(text, match.end(), language)
            currency = None
            if groups.get("currency"):
                currency = _CURRENCIES[groups["currency"].strip()]
            elif normalize(noun) in _CURRENCY_KEYS:
                currency = _CURRENCY_KEYS[normalize(noun)]
            kind: ValueKind = "count"
            if groups.get("percent"):
                kind = "percent"
            elif currency:
                kind = "money"
            approximation = None
            if groups.get("approx"):
                approximation = _APPROXIMATION_OF.get(normalize(groups["approx"]))
            start = match.start("approx") if groups.get("approx") else match.start()
            if groups.get("currency"):
                start = min(start, match.start("currency"))
            end = noun_end if currency and not groups.get("currency") else match.end()
            taken.append((match.start(), match.end()))
            found.append(
                Value(
                    start,
                    end,
                    kind,
                    written=text[start:end].strip(),
                    amount=amount,
                    approximation=approximation,
                    number=number,
                    magnitude=magnitude,
                    half=half,
                    currency=currency,
                    noun=noun,
                    noun_terms=terms,
                )
            )
    return tuple(sorted(found, key=lambda value: value.start))


_CURRENCY_KEYS = {normalize(word): name for word, name in _CURRENCIES.items()}


def same_value(a: Value, b: Value) -> bool:
    """Whether two values say the same: equal figures (to half a percent), or dates that
    agree wherever both give a part."""
    if a.kind != b.kind:
        return False
    if a.kind == "date":
        assert a.date is not None and b.date is not None
        return all(x is None or y is None or x == y for x, y in zip(a.date, b.date, strict=True))
    assert a.amount is not None and b.amount is not None
    if a.currency != b.currency:
        return False
    return abs(a.amount - b.amount) <= 0.005 * max(abs(a.amount), abs(b.amount))


def value_order(value: Value) -> tuple[float, ...]:
    """A sort key: figures by size, dates by time (unknown parts first)."""
    if value.date is not None:
        return tuple(float(part or 0) for part in value.date)
    return (value.amount or 0.0,)


def log_distance(a: Value, b: Value) -> float:
    """How far apart two figures are, in orders of magnitude."""
    if not a.amount or not b.amount or a.amount <= 0 or b.amount <= 0:
        return math.inf
    return abs(math.log10(a.amount) - math.log10(b.amount))


# -- writing a value in the question's language ------------------------------------------


def _takes_plural(number: float, rule: str) -> bool:
    low, _, high = rule.partition("-")
    if high and number != int(number):
        return False  # Arabic: a plural only after the whole numbers 3 to 10
    return number >= float(low or 0) and (not high or number <= float(high))


def _format_number(number: float, decimal: str) -> str:
    if number == int(number):
        return str(int(number))
    return f"{number:g}".replace(".", decimal)


def _word(table: dict[str, str], key: str, number: float) -> str:
    singular, _, plural = table[key].partition("|")
    return plural if plural and _takes_plural(number, table.get("plural", "2-")) else singular


def render_value(value: Value, language: str) -> str:
    """`value` written in `language`, for a figure or date from an article in another one."""
    table = localized_table("values", language)
    if value.kind == "date":
        assert value.date is not None
        year, month, day = value.date
        month_name = table["months"].split()[month - 1] if month else ""
        if month and day and year:
            template = table["day_month_year"]
        elif month and day:
            template = table["day_month"]
        elif month and year:
            template = table["month_year"]
        else:
            return str(year) if year else month_name
        return Template(template).safe_substitute(
            day=str(day), month=month_name, year=str(year or "")
        )
    count = _parse_number(value.number) if value.number else 1.0
    number = _format_number(count, table.get("decimal", "."))
    if value.kind == "percent":
        text = Template(table["percent"]).safe_substitute(number=number)
    else:
        words = [number] if value.number else []
        name = _MAGNITUDE_NAMES.get(value.magnitude or 0, "")
        if value.half and name:
            words = [Template(table["half"]).safe_substitute(magnitude=_word(table, name, 1))]
        elif name:
            words.append(_word(table, name, count))
        text = " ".join(words)
        if value.currency:
            currency = _word(table, value.currency, 2 if name else count)
            template = table["money_large" if name else "money"]
            text = Template(template).safe_substitute(amount=text, currency=currency)
    if value.approximation:
        text = Template(table[value.approximation]).safe_substitute(value=text)
    return text


def written_value(value: Value) -> str:
    """The value as its sentence writes it, without a leading conjunction ("وحوالي")."""
    written = value.written
    if written.startswith("و") and normalize(written[1:].split(" ", 1)[0]) in {
        normalize(word.split()[0]) for words in _APPROXIMATIONS.values() for word in words
    }:
        written = written[1:]
    return written


def differ_sentence(items: Sequence[str], language: str) -> str:
    """ "The sources differ: a [1], b [2], c [3]." in `language`."""
    table = localized_table("values", language)
    separator = table["separator"] + " "
    return Template(table["differ"]).safe_substitute(values=separator.join(items))


def nouns_match(asked: str, noun: str, language: str) -> bool:
    """Whether a counted noun is the asked one, by their stems (one language)."""
    if not asked or not noun:
        return False
    analyzer = analyzer_for(language)
    wanted = analyzer.terms(asked)
    found = analyzer.terms(noun)
    if not wanted or not found:
        return normalize(asked) == normalize(noun)
    a, b = wanted[-1], found[0]
    if a == b:
        return True
    shortest = min(len(a), len(b))
    return shortest >= 4 and a[:shortest] == b[:shortest]


def asked_values(text: str, language: str, wanted: str | None, question: str | None) -> list[Value]:
    """The values of `text` of the kind a number or date question asks for: dates, or
    figures of the asked quantity (a count, an amount of money, a percentage)."""
    if wanted == "date":
        return [v for v in values_in(text, language) if v.kind == "date"]
    if wanted != "number":
        return []
    quantity = asked_quantity(question) if question else "any"
    kinds = {"count", "money", "percent"} if quantity == "any" else {quantity}
    return [v for v in values_in(text, language) if v.kind in kinds]


# Counts written in words, which `values_in` does not read: "twelve boats", "trois employés",
# "ثلاثة موظفين".
_SPELLED_COUNT_RE = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|dozen|dozens|"
    r"hundred|hundreds|deux|trois|quatre|cinq|sept|huit|neuf|dix|onze|douze|treize|"
    r"quatorze|quinze|seize|vingt|trente|quarante|cinquante|douzaine|centaine|centaines)\b|"
    r"(^|\s)(واحد|واحدة|اثنان|اثنين|ثلاثة|ثلاث|أربعة|أربع|خمسة|خمس|ستة|ست|سبعة|سبع|ثمانية|"
    r"ثماني|تسعة|تسع|عشرة|عشر|عشرون|عشرين|مئة|مائة|مئات)(\s|$)",
    re.IGNORECASE,
)


def spells_a_count(text: str) -> bool:
    """Whether `text` gives a count in words."""
    return bool(_SPELLED_COUNT_RE.search(text))
