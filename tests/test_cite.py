"""Citations: `paperbot export` (BibTeX, RIS, CSL-JSON) and `/paper cite`, every entry read back by a real
parser (bibtexparser and pybtex for BibTeX, rispy for RIS; for CSL-JSON a schema written from the
specification, checked by jsonschema, and the citeproc-py processor rendering it), with hostile titles and
accented names round-tripped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import bibtexparser
import jsonschema
import pybtex.database
import pytest
import rispy
from citeproc import Citation, CitationItem, CitationStylesBibliography, CitationStylesStyle, formatter
from citeproc.source.json import CiteProcJSON
from hypothesis import given
from hypothesis import strategies as st
from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

from bot.cite import bibtex, csljson, ris
from bot.cite.records import CitationRecord, assign_keys, key_base
from bot.db import connect
from bot.digest.store import load_file
from tests.conftest import SHIPPED_DIGEST
from tests.csl_schema import SCHEMA
from tests.fakes.arxiv_api import FakeArxivAPI
from tests.helpers import run_cli, run_cli_system_exit

HOSTILE_TITLES = [
    "Braces {and} unbalanced } { in a title",
    "100% of C:\\path\\to & back",
    "Costs $5 #1 for x_i^2 ~ y",
    "\\textbf{Not} a command \\",
    "}{",
    "Ünïcödé Läyers: Kramár's ÉLAN -- and “quotes”",
]
ACCENTED = ("János Kramár", "Florian Tramèr", "Zalán Borsos", "Sergi Castella i Sapé", "Øyvind Tafjord")


def _latex() -> LatexNodes2Text:
    """pylatexenc knows \\textbackslash but not LaTeX's text-mode brace commands: teach it those."""
    context = get_default_latex_context_db()
    context.add_context_category(
        "text-braces",
        macros=[MacroTextSpec("textbraceleft", "{"), MacroTextSpec("textbraceright", "}")],
        prepend=True,
    )
    return LatexNodes2Text(latex_context=context)


LATEX = _latex()


def latex_text(value: str) -> str:
    """What LaTeX prints for a field: commands decoded, grouping braces gone."""
    return " ".join(LATEX.latex_to_text(value).replace("ˆ", "^").split())


def bibtex_entries(text: str) -> dict[str, dict[str, str]]:
    """Parse with both parsers; fail on anything either refuses (unbalanced braces, duplicate keys)."""
    library = bibtexparser.parse_string(text)
    assert library.failed_blocks == [], [block.error for block in library.failed_blocks]
    parsed = pybtex.database.parse_string(text, "bibtex")  # raises on duplicate keys and bad syntax
    assert sorted(parsed.entries) == sorted(entry.key for entry in library.entries)
    return {entry.key: {name: field.value for name, field in entry.fields_dict.items()} for entry in library.entries}


def record(title: str, authors: tuple[str, ...] = ACCENTED, **fields: Any) -> CitationRecord:
    values: dict[str, Any] = {
        "paper_id": 1,
        "key": "k1",
        "title": title,
        "authors": authors,
        "authors_complete": True,
        "year": 2023,
        "month": 1,
        "day": 26,
        "arxiv_id": "2301.11325",
        "primary_class": "cs.SD",
        "doi": "10.48550/arXiv.2301.11325",
        "url": "https://arxiv.org/abs/2301.11325",
        "abstract": "An abstract with 50% & more.",
        "digest_month": "2023-01",
        **fields,
    }
    return CitationRecord(**values)


# --- BibTeX ------------------------------------------------------------------------------------------


def test_every_paper_of_the_shipped_digest_exports_and_parses(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    code, out, err = run_cli(capsys, "export")
    assert code == 0 and err == ""
    entries = bibtex_entries(out)
    assert len(entries) == 10
    assert entries["agostinelli2023musiclm"]["eprint"] == "2301.11325"
    assert entries["agostinelli2023musiclm"]["archivePrefix"] == "arXiv"
    # Not enriched: the digest's author list ended with "et al.", and the entry says so.
    assert entries["agostinelli2023musiclm"]["author"] == "Andrea Agostinelli and Timeo I. Denk and others"
    assert latex_text(entries["lindner2023tracr"]["author"]).startswith("David Lindner and János Kramár")
    assert code == 0 and run_cli(capsys, "export", "--month", "2023-01")[1] == out


def test_enriched_entries_are_arxiv_style_with_doi(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeArxivAPI() as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        assert run_cli(capsys, "load", str(SHIPPED_DIGEST))[0] == 0
    out = run_cli(capsys, "export")[1]
    assert out.startswith(
        "@misc{agostinelli2023musiclm,\n"
        "  title = {{MusicLM}: Generating Music From Text},\n"
        "  author = {Andrea Agostinelli and Timo I. Denk and Zalán Borsos and"
    )
    entries = bibtex_entries(out)
    assert len(entries) == 10
    musiclm = entries["agostinelli2023musiclm"]
    assert musiclm["primaryClass"] == "cs.SD" and musiclm["year"] == "2023"
    assert musiclm["url"] == "https://arxiv.org/abs/2301.11325"
    assert " and others" not in musiclm["author"] and "Marco Tagliasacchi" in musiclm["author"]
    db = connect(db_path)
    dois = dict(db.execute("SELECT arxiv_id, doi FROM arxiv_entries WHERE doi IS NOT NULL").fetchall())
    with_doi = [entry for entry in entries.values() if entry.get("eprint") in dois]
    assert with_doi and all(entry["doi"] == dois[entry["eprint"]] for entry in with_doi)
    # Every entry: the arXiv fields, and a title that reads back as arXiv's title.
    titles = dict(db.execute("SELECT arxiv_id, title FROM arxiv_entries").fetchall())
    for entry in entries.values():
        if "eprint" in entry:
            assert entry["archivePrefix"] == "arXiv" and entry["primaryClass"]
            assert latex_text(entry["title"]) == " ".join(titles[entry["eprint"]].split())


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_hostile_titles_and_accented_names_round_trip(title: str) -> None:
    text = bibtex.entry(record(title))
    fields = bibtex_entries(text)["k1"]
    assert latex_text(fields["title"]) == " ".join(title.split())
    assert latex_text(fields["author"]) == " and ".join(ACCENTED)
    assert "Kramár" in fields["author"]  # accents kept as they are, not as \'a
    assert fields["doi"] == "10.48550/arXiv.2301.11325"


@given(
    st.text(alphabet=st.sampled_from("abcXYZ éüñß{}%&\\$#_^~-:()'\"`,<>?!"), min_size=1, max_size=60).filter(
        lambda text: text.strip() != ""
    )
)
def test_any_title_round_trips(title: str) -> None:
    fields = bibtex_entries(bibtex.entry(record(title, authors=("Ada {Lovelace}", "Bob and Alice", "Carl, Jr"))))
    assert latex_text(fields["k1"]["title"]) == " ".join(title.split())
    names = pybtex.database.parse_string(bibtex.entry(record(title)), "bibtex").entries["k1"].persons["author"]
    assert len(names) == len(ACCENTED)


def test_names_bibtex_would_misread_stay_one_author() -> None:
    entry = pybtex.database.parse_string(
        bibtex.entry(record("T", authors=("Smith and Wesson Lab", "Doe, Jane", "Jane Roe"))), "bibtex"
    ).entries["k1"]
    assert len(entry.persons["author"]) == 3


def test_keys() -> None:
    assert key_base("Andrea Agostinelli", 2023, "MusicLM: Generating Music From Text") == "agostinelli2023musiclm"
    assert key_base("János Kramár", 2023, "The Tracr of a Thing") == "kramar2023tracr"
    assert key_base(None, 2021, "{}%") == "anon2021"
    keys = assign_keys([(3, "wei2022chain"), (1, "wei2022chain"), (2, "wei2022chaina"), (4, "wei2022chain")])
    assert keys == {1: "wei2022chain", 2: "wei2022chaina", 3: "wei2022chainb", 4: "wei2022chainc"}
    assert len(set(keys.values())) == len(keys)


def test_keys_are_unique_across_the_archive(db_path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The same paper title by the same first author in another month (another arXiv id) gets a new key;
    the older paper keeps the plain one."""
    copy = tmp_path / "2023-02.txt"
    text = SHIPPED_DIGEST.read_text(encoding="utf-8").replace("2301.11325", "2302.99999")
    copy.write_text(text, encoding="utf-8")
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST), str(copy))[0] == 0
    entries = bibtex_entries(run_cli(capsys, "export")[1])
    assert entries["agostinelli2023musiclm"]["eprint"] == "2301.11325"
    assert entries["agostinelli2023musiclma"]["eprint"] == "2302.99999"
    assert len(entries) == 11
    month = bibtex_entries(run_cli(capsys, "export", "--month", "2023-02")[1])
    assert "agostinelli2023musiclma" in month and len(month) == 10  # same keys as in the whole archive


# --- RIS and CSL-JSON ----------------------------------------------------------------------------------


def test_ris_and_csljson_of_the_shipped_digest(
    db_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeArxivAPI() as api:
        monkeypatch.setenv("ARXIV_API_URL", api.url)
        assert run_cli(capsys, "load", str(SHIPPED_DIGEST))[0] == 0
    code, out, _ = run_cli(capsys, "export", "--format", "ris")
    references = rispy.loads(out)
    assert code == 0 and len(references) == 10
    musiclm = references[0]
    assert musiclm["title"] == "MusicLM: Generating Music From Text" and musiclm["id"] == "agostinelli2023musiclm"
    assert musiclm["authors"][:2] == ["Andrea Agostinelli", "Timo I. Denk"] and musiclm["year"] == "2023"
    code, out, _ = run_cli(capsys, "export", "--format", "csljson", "--month", "2023-01")
    items = json.loads(out)
    jsonschema.validate(items, SCHEMA)
    assert code == 0 and len(items) == 10
    assert items[0]["id"] == "agostinelli2023musiclm" and items[0]["number"] == "arXiv:2301.11325"
    assert items[0]["author"][0] == {"family": "Agostinelli", "given": "Andrea"}
    assert items[0]["issued"]["date-parts"][0][0] == 2023
    assert "MusicLM: Generating Music From Text" in rendered(items)[0] and "Agostinelli" in rendered(items)[0]


def rendered(items: list[dict[str, object]]) -> list[str]:
    """The bibliography a real CSL processor (citeproc-py, with a style it ships) makes of ``items``."""
    style = CitationStylesStyle("harvard-cite-them-right", validate=False)
    bibliography = CitationStylesBibliography(style, CiteProcJSON(items), formatter.plain)
    for entry in items:
        bibliography.register(Citation([CitationItem(str(entry["id"]))]))
    return [str(line) for line in bibliography.bibliography()]


@pytest.mark.parametrize("title", HOSTILE_TITLES)
def test_ris_and_csljson_keep_hostile_titles(title: str) -> None:
    hostile = record(title + "\nsecond line", authors=(*ACCENTED, "Plato"))
    [parsed] = rispy.loads(ris.record_text(hostile))
    assert parsed["title"] == " ".join((title + " second line").split())
    assert parsed["authors"] == [*ACCENTED, "Plato"]
    items = json.loads("".join(csljson.items_text([hostile, record(title, paper_id=2, key="k2", doi=None)])))
    jsonschema.validate(items, SCHEMA)
    assert len(rendered(items)) == 2
    assert items[0]["title"] == title + "\nsecond line"
    assert items[0]["author"][-1] == {"literal": "Plato"}
    assert csljson.name("Jan van Gemert") == {"family": "van Gemert", "given": "Jan"}


# --- the CLI's refusals --------------------------------------------------------------------------------


def test_export_refuses_unknown_month_and_format(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    load_file(connect(db_path), SHIPPED_DIGEST)
    code, out, err = run_cli(capsys, "export", "--month", "2019-05")
    assert code == 1 and out == "" and err == "error: no digest for 2019-05 (digests: 2023-01)\n"
    code, out, err = run_cli_system_exit(capsys, "export", "--format", "bibtex2")
    assert code == 2 and out == "" and "invalid choice" in err
    code, _, err = run_cli_system_exit(capsys, "export", "--month", "May")
    assert code == 2 and "--month" in err


def test_export_of_an_empty_archive(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "export") == (0, "", "")
    assert json.loads(run_cli(capsys, "export", "--format", "csljson")[1]) == []


# --- /paper cite -------------------------------------------------------------------------------------


def test_cite_command_answers_with_the_entry(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "load", "--no-enrich", str(SHIPPED_DIGEST))[0] == 0
    code, out, _ = run_cli(capsys, "search", "cite", "musiclm", "--json")
    payload = json.loads(out)
    [code_block] = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"]
    entry = code_block.strip("`").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    assert list(bibtex_entries(entry)) == ["agostinelli2023musiclm"]
    code, out, _ = run_cli(capsys, "search", "cite")
    assert code == 0 and "Usage: /paper cite QUERY" in out
    code, out, _ = run_cli(capsys, "search", "cite", "qxzjvqxzjv")
    assert code == 0 and "No paper in the digests matches" in out
    code, out, _ = run_cli(capsys, "search", "cite", "language")
    assert code == 0 and "Pick one" in out
