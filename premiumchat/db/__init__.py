"""Persistence: table models, the engine and sessions, queries and migrations."""
