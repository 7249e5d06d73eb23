"""Opinions sent back to exchanges: which hashes matched, tries, leases.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Timestamp = sa.DateTime(timezone=True)
ADDED = ("signal_types", "attempts", "next_attempt_at", "last_error", "leased_by", "leased_until")


def upgrade() -> None:
    with op.batch_alter_table("opinions") as table:
        table.add_column(sa.Column("signal_types", sa.JSON, nullable=False, server_default="[]"))
        table.add_column(sa.Column("attempts", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("next_attempt_at", Timestamp))
        table.add_column(sa.Column("last_error", sa.Text))
        table.add_column(sa.Column("leased_by", sa.String(200)))
        table.add_column(sa.Column("leased_until", Timestamp))
    # Opinions written before this had no sender: those about content no
    # exchange sent will never have one.
    op.execute(
        "UPDATE opinions SET status = 'not_sent' "
        "WHERE status = 'pending' AND (source IS NULL OR source NOT LIKE 'exchange:%')"
    )


def downgrade() -> None:
    with op.batch_alter_table("opinions") as table:
        for column in ADDED:
            table.drop_column(column)
