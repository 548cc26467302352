"""A JSON Schema for the CSL-JSON items paperbot exports, written from the CSL 1.0.2 specification
(https://docs.citationstyles.org/en/stable/specification.html, "Appendix IV - Variables" and the name and
date sections): each item has an ``id`` and a ``type`` from the specification's item types; name variables
are lists of name objects (``family``/``given`` and their particles, or ``literal``); date variables are
``date-parts`` of one or two [year, month, day] lists, or a ``literal``; everything else is a standard
string or number variable. Unknown keys are refused, so a misspelt variable cannot pass.
"""

from __future__ import annotations

from typing import Any

ITEM_TYPES = [
    "article", "article-journal", "article-magazine", "article-newspaper", "bill", "book", "broadcast",
    "chapter", "classic", "collection", "dataset", "document", "entry", "entry-dictionary",
    "entry-encyclopedia", "event", "figure", "graphic", "hearing", "interview", "legal_case", "legislation",
    "manuscript", "map", "motion_picture", "musical_score", "pamphlet", "paper-conference", "patent",
    "performance", "periodical", "personal_communication", "post", "post-weblog", "regulation", "report",
    "review", "review-book", "software", "song", "speech", "standard", "thesis", "treaty", "webpage",
]  # fmt: skip
STRING_VARIABLES = [
    "abstract", "annote", "archive", "archive_location", "authority", "call-number", "citation-label",
    "collection-title", "container-title", "container-title-short", "DOI", "edition", "genre", "ISBN",
    "ISSN", "issue", "language", "medium", "note", "number", "page", "PMCID", "PMID", "publisher",
    "publisher-place", "references", "source", "status", "title", "title-short", "URL", "version",
    "volume", "year-suffix",
]  # fmt: skip
NAME_VARIABLES = ["author", "editor", "translator", "contributor", "collection-editor", "container-author"]
DATE_VARIABLES = ["accessed", "issued", "submitted", "original-date", "event-date"]

NAME: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        key: {"type": "string", "minLength": 1}
        for key in ("family", "given", "dropping-particle", "non-dropping-particle", "suffix", "literal")
    },
    "anyOf": [{"required": ["family"]}, {"required": ["literal"]}],
}
DATE: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "date-parts": {
            "type": "array",
            "minItems": 1,
            "maxItems": 2,
            "items": {"type": "array", "minItems": 1, "maxItems": 3, "items": {"type": "integer"}},
        },
        "literal": {"type": "string"},
    },
    "anyOf": [{"required": ["date-parts"]}, {"required": ["literal"]}],
}
ITEM: dict[str, Any] = {
    "type": "object",
    "required": ["id", "type"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1},
        "type": {"enum": ITEM_TYPES},
        **{key: {"type": ["string", "number"]} for key in STRING_VARIABLES},
        **{key: {"type": "array", "items": NAME} for key in NAME_VARIABLES},
        **{key: DATE for key in DATE_VARIABLES},
    },
}
SCHEMA: dict[str, Any] = {"type": "array", "items": ITEM}
