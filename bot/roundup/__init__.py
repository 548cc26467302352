"""The monthly roundup: composing it (``compose``), posting it exactly once (``post``) and its schedule
(``schedule``)."""
