"""The Slack adapter: the only package that talks to Slack (``slack_bolt``, ``slack_sdk``).

``app`` builds the Bolt app, ``server`` runs it (HTTP or Socket Mode), ``listeners`` is the routing
table, ``replies`` answers ``/paper``, ``blocks`` and ``mrkdwn`` build messages, ``ids`` names every
surface. Importing this package imports nothing from Slack: each module does that itself.
"""
