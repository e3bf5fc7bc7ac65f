"""Persistence: the database connection, schema migrations, queries per table, backups and sync."""
