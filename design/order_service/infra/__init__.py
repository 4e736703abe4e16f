"""Infrastructure: the database backends (SQLite, PostgreSQL) and the clock."""
