"""The state store: SQLAlchemy tables, repository functions and Alembic migrations.

SQLite by default, PostgreSQL for several replicas.
"""
