"""id_counters: the last id handed out per table, so SQLite never hands out a
deleted row's id again (PostgreSQL's sequences never do; the table is there
on both engines, one schema for both).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
#: Tables whose ids the change log and the indexes refer to, and their keys.
COUNTED = {"contents": "id", "content_signals": "id", "changes": "seq"}


def upgrade() -> None:
    op.create_table(
        "id_counters",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("last_id", Id, nullable=False),
    )
    for table, key in COUNTED.items():
        # Ids deleted before this migration are beyond recall; from the
        # highest one left, none is handed out again.
        op.execute(
            f"INSERT INTO id_counters (name, last_id) "
            f"SELECT '{table}', COALESCE(MAX({key}), 0) FROM {table}"
        )


def downgrade() -> None:
    op.drop_table("id_counters")
