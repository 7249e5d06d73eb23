"""Longer signal values: ``content_signals.value`` from 128 to 2048
characters, so ordinary long URLs can be banked (docs/signals.md#lengths).

On PostgreSQL widening a ``varchar`` is a change of the catalogue only: the
table is not rewritten and its indexes stay as they are.  The unique index
on (bank_id, signal_type, value) takes the longest value: a normalised URL
is ASCII, so 2048 bytes with the other columns stay under a btree entry's
limit (about 2700 bytes).  SQLite does not enforce a ``VARCHAR``'s length,
so its databases take the longer values as they are: rebuilding the table
only to change the declared width would copy every signal.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

OLD, NEW = 128, 2048


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "content_signals",
            "value",
            type_=sa.String(NEW),
            existing_type=sa.String(OLD),
            existing_nullable=False,
        )


def downgrade() -> None:
    bind = op.get_bind()
    longer = bind.scalar(
        sa.text("SELECT count(*) FROM content_signals WHERE length(value) > :old"), {"old": OLD}
    )
    if longer:
        raise RuntimeError(
            f"{longer} signals are longer than {OLD} characters: remove them before "
            "downgrading below 0019"
        )
    if bind.dialect.name == "postgresql":
        op.alter_column(
            "content_signals",
            "value",
            type_=sa.String(OLD),
            existing_type=sa.String(NEW),
            existing_nullable=False,
        )
