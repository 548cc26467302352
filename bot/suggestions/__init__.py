"""Suggestions and votes for the next roundup: the domain (``model``) and its Block Kit (``blocks``)."""
