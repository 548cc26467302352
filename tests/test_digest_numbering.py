"""Item numbers in plain-text digests (issue 9, #10): any item count parses, and a line that looks like an
item but cannot be placed is refused with its line number instead of being merged into its neighbour."""

from __future__ import annotations

import pytest

from bot.digest.parse import DigestError, parse_digest


def _item(number: int, *, sep: str = "、") -> str:
    return (
        f"{number}{sep}Paper Number {number}\n"
        f"https://arxiv.org/abs/2301.{number:05d}\n"
        f"Ada Lovelace, Alan Turing.\n"
        f"The summary of paper {number}.\n"
    )


def test_a_digest_of_1200_items_parses_every_item_with_its_own_title_link_and_summary() -> None:
    text = "".join(_item(n) for n in range(1, 1201))
    digest = parse_digest(text, source="big-2023-01.txt")
    assert len(digest.papers) == 1200
    for number in (999, 1000, 1001, 1200):
        paper = digest.papers[number - 1]
        assert paper.title == f"Paper Number {number}"
        assert paper.arxiv is not None and paper.arxiv.id == f"2301.{number:05d}"
        assert paper.summary == f"The summary of paper {number}."


def test_markdown_headings_numbered_past_999_keep_their_title() -> None:
    text = "".join(
        f"## {n}. Paper Number {n}\nhttps://arxiv.org/abs/2301.{n:05d}\nAuthors: Ada Lovelace\nSummary {n}.\n\n"
        for n in (998, 999, 1000)
    )
    digest = parse_digest(text, source="md-2023-01.md")
    assert [p.title for p in digest.papers] == ["Paper Number 998", "Paper Number 999", "Paper Number 1000"]


@pytest.mark.parametrize(
    ("numbers", "bad_index", "reason"),
    [
        ([1, 2, 4], 2, "looks like item 4, but item 3 comes next"),  # a skipped number
        ([1, 2, 2, 3], 2, "looks like item 2, but item 3 comes next"),  # a repeated number
        ([1, 2, 1], 2, "looks like item 1, but item 3 comes next"),  # numbering starts again
    ],
    ids=["skipped", "repeated", "restarted"],
)
def test_an_item_that_cannot_be_placed_is_refused_with_its_line(
    numbers: list[int], bad_index: int, reason: str
) -> None:
    items = [_item(n) for n in numbers]
    text = "".join(items)
    bad_line = 1 + sum(chunk.count("\n") for chunk in items[:bad_index])
    with pytest.raises(DigestError, match=reason) as refused:
        parse_digest(text, source="x-2023-01.txt")
    assert refused.value.line == bad_line
    assert str(refused.value).startswith(f"x-2023-01.txt:{bad_line}: ")
    assert "\n" not in str(refused.value)


def test_a_numbered_line_without_link_or_authors_is_named_when_the_next_item_is_refused() -> None:
    text = _item(1) + "2、Second Paper Lost Its Link\nA summary.\n" + _item(3)
    with pytest.raises(DigestError, match="line 5 is numbered 2 but has no link or author line") as refused:
        parse_digest(text, source="x-2023-01.txt")
    assert refused.value.line == 7


def test_decimals_and_references_after_the_last_item_are_not_items() -> None:
    text = (
        _item(1)
        + "1.5B parameters, and:\nhttps://example.com/model\n"
        + _item(2)
        + "References\n[1] \u201cSoundStream\u201d, by Neil Zeghidour, 2021.\n"
        + "2. \u201cw2v-BERT\u201d, by Yu-An Chung, 2021.\nhttps://example.com/source\n作者: Someone\n"
    )
    digest = parse_digest(text, source="x-2023-01.txt")
    assert [p.title for p in digest.papers] == ["Paper Number 1", "Paper Number 2"]
    assert "1.5B parameters" in digest.papers[0].summary
