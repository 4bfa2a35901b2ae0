"""Use cases: the API, web pages and CLI call these, never the layers below directly."""
