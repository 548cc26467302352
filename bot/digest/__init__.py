"""Digests: parsing a monthly digest (``parse``), writing it to SQLite (``store``) and reading papers back
(``catalog``)."""
