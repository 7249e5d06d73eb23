"""Exchanges: named sources of hashes bound to banks, and their fetch state
(checkpoint, lease, last run).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("source_type", sa.String(32), nullable=False),
        sa.Column(
            "bank_id",
            Id,
            sa.ForeignKey("banks.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("credentials_env", sa.String(200)),
        sa.Column("credentials_file", sa.String(1000)),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "exchange_state",
        sa.Column(
            "exchange_id",
            Id,
            sa.ForeignKey("exchanges.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("checkpoint", sa.JSON),
        sa.Column("leased_by", sa.String(200)),
        sa.Column("leased_until", Timestamp),
        sa.Column("run_started_at", Timestamp),
        sa.Column("run_finished_at", Timestamp),
        sa.Column("succeeded", sa.Boolean),
        sa.Column("up_to_date", sa.Boolean, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("counts", sa.JSON, nullable=False),
        sa.Column("malformed_samples", sa.JSON, nullable=False),
        sa.Column("fetched_total", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exchange_state")
    op.drop_table("exchanges")
