"""The review queue: claims, decisions and due times on review items; named
queues, the decision history, reveals, reviewers' preferences and opinions.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def _item_fk() -> sa.Column[int]:
    return sa.Column(
        "item_id",
        Id,
        sa.ForeignKey("review_items.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    )


def upgrade() -> None:
    with op.batch_alter_table("review_items") as table:
        table.add_column(sa.Column("due_at", Timestamp))
        table.add_column(sa.Column("reason", sa.Text, nullable=False, server_default=""))
        table.add_column(sa.Column("follow_ups", sa.JSON, nullable=False, server_default="{}"))
        table.add_column(sa.Column("claimed_by", sa.String(200)))
        table.add_column(sa.Column("claimed_until", Timestamp))
        table.add_column(sa.Column("decision", sa.String(16)))
        table.add_column(sa.Column("classification", sa.String(2)))
        table.add_column(sa.Column("annotations", sa.JSON, nullable=False, server_default="[]"))
        table.add_column(sa.Column("note", sa.Text, nullable=False, server_default=""))
        table.add_column(sa.Column("decided_by", sa.String(200)))
        table.add_column(sa.Column("escalated_to", Id))
        table.add_column(sa.Column("escalated_from", Id))
    with op.batch_alter_table("report_requests") as table:
        table.add_column(sa.Column("review_item_id", Id))
    op.create_index(
        "ix_review_items_next",
        "review_items",
        ["queue", "status", "priority", "created_at", "id"],
    )
    op.create_index("ix_review_items_claimed", "review_items", ["claimed_by", "queue", "status"])
    op.create_table(
        "review_queues",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("sla_minutes", sa.Integer),
        sa.Column("access", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "review_decisions",
        sa.Column("id", Id, primary_key=True),
        _item_fk(),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("classification", sa.String(2)),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_index(
        "ix_review_decisions_actor", "review_decisions", ["actor", "decision", "created_at"]
    )
    op.create_table(
        "review_reveals",
        sa.Column("id", Id, primary_key=True),
        _item_fk(),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("revealed_at", Timestamp, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
    )
    op.create_table(
        "review_reveal_days",
        sa.Column("reviewer", sa.String(200), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("reveals", sa.Integer, nullable=False),
    )
    op.create_table(
        "reviewer_preferences",
        sa.Column("reviewer", sa.String(200), primary_key=True),
        sa.Column("blur_px", sa.Integer),
        sa.Column("grayscale", sa.Boolean),
        sa.Column("reveal_seconds", sa.Integer),
        sa.Column("stretch_started_at", Timestamp),
        sa.Column("last_active_at", Timestamp),
    )
    op.create_table(
        "opinions",
        sa.Column("id", Id, primary_key=True),
        _item_fk(),
        sa.Column("bank", sa.String(100), nullable=False),
        sa.Column("content_id", Id, nullable=False, index=True),
        sa.Column("external_id", sa.String(300)),
        sa.Column("source", sa.String(200), index=True),
        sa.Column("opinion", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp),
    )


def downgrade() -> None:
    for name in (
        "opinions",
        "reviewer_preferences",
        "review_reveal_days",
        "review_reveals",
        "review_decisions",
        "review_queues",
    ):
        op.drop_table(name)
    op.drop_index("ix_review_items_claimed", "review_items")
    op.drop_index("ix_review_items_next", "review_items")
    with op.batch_alter_table("report_requests") as table:
        table.drop_column("review_item_id")
    with op.batch_alter_table("review_items") as table:
        for column in (
            "escalated_from",
            "escalated_to",
            "decided_by",
            "note",
            "annotations",
            "classification",
            "decision",
            "claimed_until",
            "claimed_by",
            "follow_ups",
            "reason",
            "due_at",
        ):
            table.drop_column(column)
