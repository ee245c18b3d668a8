"""Alembic environment: the connection is handed in by anonymizer.ledger.migrate."""

from __future__ import annotations

from alembic import context

from anonymizer.ledger.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
