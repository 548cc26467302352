"""In-process fakes of Slack used by the test suite (a fake Web API server and request-signing helpers)."""
