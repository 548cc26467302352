"""Citations of archive papers: records read from the database, keys, and BibTeX / RIS / CSL-JSON."""
