"""arXiv: identifiers (``ids``), the polite API client (``client``) and enrichment of stored papers
(``enrich``)."""
