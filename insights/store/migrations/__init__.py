"""Alembic migrations of the insight store (a package, so they ship inside the wheel).

Run by :func:`insights.store.db.init_db`; for a new revision (from the repository root)::

    .venv/bin/python -m insights.store.migrate revision -m "add x"
"""
