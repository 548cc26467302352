"""Search: how text is indexed (``terms``) and how a query finds the paper it means (``query``)."""
