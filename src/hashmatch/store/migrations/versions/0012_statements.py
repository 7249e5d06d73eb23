"""Statements of reasons for the DSA Transparency Database, sent with leases.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "statements",
        sa.Column("id", Id, primary_key=True),
        sa.Column("decision_kind", sa.String(16), nullable=False),
        sa.Column("decision_id", Id, nullable=False),
        sa.Column("submission_id", Id, index=True),
        sa.Column("puid", sa.String(500), nullable=False, unique=True),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", Timestamp),
        sa.Column("response", sa.JSON),
        sa.Column("last_error", sa.Text),
        sa.Column("leased_by", sa.String(200)),
        sa.Column("leased_until", Timestamp),
        sa.Column("created_at", Timestamp, nullable=False, index=True),
        sa.Column("sent_at", Timestamp),
        sa.UniqueConstraint("decision_kind", "decision_id", name="uq_statements_decision"),
    )
    op.create_index("ix_statements_due", "statements", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_statements_due", table_name="statements")
    op.drop_table("statements")
