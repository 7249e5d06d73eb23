"""Banks, bank content, content signals, the change log, and this database's id.

Revision ID: 0001
Revises:
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    instance = op.create_table(
        "instance",
        sa.Column("id", sa.String(36), primary_key=True),
    )
    op.bulk_insert(instance, [{"id": str(uuid.uuid4())}])
    op.create_table(
        "banks",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("thresholds", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "contents",
        sa.Column("id", Id, primary_key=True),
        sa.Column("bank_id", Id, sa.ForeignKey("banks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("external_id", sa.String(200)),
        sa.Column("source", sa.String(200)),
        sa.Column("source_metadata", sa.JSON, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("labels", sa.JSON, nullable=False, server_default=sa.text("'[]'")),
        sa.Column("note", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("disabled_until", Timestamp),
    )
    op.create_index(
        "uq_contents_bank_external_id",
        "contents",
        ["bank_id", "external_id"],
        unique=True,
        sqlite_where=sa.text("external_id IS NOT NULL"),
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_index("ix_contents_bank_id", "contents", ["bank_id"])
    op.create_table(
        "content_signals",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "content_id", Id, sa.ForeignKey("contents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("bank_id", Id, sa.ForeignKey("banks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("signal_type", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("quality", sa.Integer),
        sa.UniqueConstraint("bank_id", "signal_type", "value"),
    )
    op.create_index("ix_content_signals_content_id", "content_signals", ["content_id"])
    op.create_table(
        "changes",
        sa.Column("seq", Id, primary_key=True, autoincrement=True),
        sa.Column("op", sa.String(8), nullable=False),
        sa.Column("signal_id", Id, nullable=False),
        sa.Column("last_signal_id", Id, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("changes")
    op.drop_table("content_signals")
    op.drop_table("contents")
    op.drop_table("banks")
    op.drop_table("instance")
