"""Appeals against a verdict or a review decision, worked in their own queue.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "submission_id",
            Id,
            sa.ForeignKey("submissions.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("review_item_id", Id, index=True),
        sa.Column("content_ref", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("due_at", Timestamp, nullable=False),
        sa.Column("original_decider", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16)),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", Timestamp),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("outcome", sa.JSON, nullable=False),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("claimed_until", Timestamp),
    )
    op.create_index("ix_appeals_open", "appeals", ["status", "due_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_appeals_open", table_name="appeals")
    op.drop_table("appeals")
