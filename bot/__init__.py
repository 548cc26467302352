"""paperbot: a Slack bot for ML research teams' monthly paper digests."""

__version__ = "0.1.0"
