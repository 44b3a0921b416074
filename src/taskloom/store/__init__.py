"""Persistence: tables, queries and migrations over SQLAlchemy Core (SQLite and PostgreSQL)."""
