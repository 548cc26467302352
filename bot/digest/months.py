"""Months as people write them: ``2023-1``, ``2023/01``, ``202301``, ``2023年1月``, ``jan 2023``,
``January 2023``, and without a year (``1月``, ``jan``) the latest year whose digest has that month.

Everything ends as the ``YYYY-MM`` that digests are stored under. Pure functions: the caller passes the
digest months it knows (newest first or in any order) when a year-less form has to be placed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

_FULL_NAMES = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
MONTH_NAMES: dict[str, int] = {
    **{name: number for number, name in enumerate(_FULL_NAMES, start=1)},
    **{name[:3]: number for number, name in enumerate(_FULL_NAMES, start=1)},
    "sept": 9,
}
"""English month names and their three-letter abbreviations, case-folded."""


def month_name(month: str) -> str:
    """``2023-01`` → ``January 2023`` (English whatever the locale); anything else as it is."""
    year, _, number = month.partition("-")
    if year.isdigit() and number.isdigit() and 1 <= int(number) <= 12:
        return f"{_FULL_NAMES[int(number) - 1].capitalize()} {year}"
    return month


_CHINESE_NUMBERS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_YEAR = r"(?P<year>(?:19|20)\d{2})"
_NUMBER = r"(?P<month>\d{1,2})"
_NAME = r"(?P<name>[a-z]+)\.?"
_CHINESE_MONTH = r"(?P<cmonth>\d{1,2}|[一二三四五六七八九十]{1,3})\s*月(?:份)?"
_FORMS = [
    re.compile(rf"{_YEAR}\s*[-/.]\s*{_NUMBER}"),  # 2023-1, 2023/01, 2023.01
    re.compile(rf"{_YEAR}(?P<month>\d{{2}})"),  # 202301
    re.compile(rf"{_NUMBER}\s*[-/.]\s*{_YEAR}"),  # 01/2023: a four-digit year leaves no doubt
    re.compile(rf"{_YEAR}\s*年\s*{_CHINESE_MONTH}"),  # 2023年1月
    re.compile(rf"{_NAME}\s*[-,/]?\s*{_YEAR}"),  # jan 2023, January, 2023
    re.compile(rf"{_YEAR}\s*[-,/]?\s*{_NAME}"),  # 2023 jan
    re.compile(_CHINESE_MONTH),  # 1月, 一月: the latest year that has it
    re.compile(_NAME),  # jan, january: the latest year that has it
]
MAX_MONTH_TEXT = 40
"""Longer text is not a month; it is refused without being parsed."""


class MonthError(ValueError):
    """The text is not a month, or a year-less month no digest has; the message says which."""


def _month_number(match: re.Match[str]) -> int | None:
    groups = match.groupdict()
    if groups.get("month"):
        return int(groups["month"])
    if groups.get("name"):
        return MONTH_NAMES.get(groups["name"])
    text = groups.get("cmonth") or ""
    if text.isdigit():
        return int(text)
    # 十二 = 10 + 2, 十一 = 10 + 1, 十 = 10, 九 = 9.
    if text.startswith("十"):
        return 10 + sum(_CHINESE_NUMBERS[ch] for ch in text[1:]) if len(text) <= 2 else None
    return _CHINESE_NUMBERS.get(text) if len(text) == 1 else None


def parse_month(text: str, known: Sequence[str] = ()) -> str:
    """``text`` as ``YYYY-MM``. A form without a year takes the latest year among ``known`` months that
    has it. Raises :class:`MonthError` with the reason."""
    shown = " ".join(text.split())[:MAX_MONTH_TEXT]
    value = unicodedata.normalize("NFKC", text).strip().casefold()
    if len(value) > MAX_MONTH_TEXT:
        raise MonthError(f"month must look like 2023-01, 2023/1, 2023年1月 or jan 2023, got {shown!r}")
    for form in _FORMS:
        match = form.fullmatch(value)
        if match is None:
            continue
        number = _month_number(match)
        if number is None or not 1 <= number <= 12:
            break
        year = match.groupdict().get("year")
        if year:
            return f"{year}-{number:02d}"
        candidates = sorted((month for month in known if month.endswith(f"-{number:02d}")), reverse=True)
        if not candidates:
            raise MonthError(f"no digest is from month {number} of any year; give the year, as in 2023-{number:02d}")
        return candidates[0]
    raise MonthError(f"month must look like 2023-01, 2023/1, 2023年1月 or jan 2023, got {shown!r}")
