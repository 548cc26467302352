"""``python -m bot``: the same CLI as the ``paperbot`` console script."""

from bot.cli import main

raise SystemExit(main())
