"""The coalition's annual report and knowledge sharing: members' signed
period reports, national totals, forums and published templates.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def _member() -> sa.Column[int]:
    return sa.Column(
        "member_id", Id, sa.ForeignKey("hub_members.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "hub_period_reports",
        sa.Column("id", Id, primary_key=True),
        _member(),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("kid", sa.String(100), nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("publish", sa.Boolean, nullable=False),
        sa.UniqueConstraint("member_id", "period", name="uq_hub_period_reports"),
    )
    op.create_index("ix_hub_period_reports_member_id", "hub_period_reports", ["member_id"])
    op.create_index("ix_hub_period_reports_period", "hub_period_reports", ["period"])
    op.create_table(
        "hub_national_totals",
        sa.Column("id", Id, primary_key=True),
        sa.Column("period", sa.String(16), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("entered_by", sa.String(200), nullable=False),
        sa.Column("entered_at", Timestamp, nullable=False),
        sa.UniqueConstraint("period", "source", name="uq_hub_national_totals"),
    )
    op.create_table(
        "hub_forums",
        sa.Column("id", Id, primary_key=True),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("participants", sa.Integer, nullable=False),
        sa.Column("countries", sa.JSON, nullable=False),
        sa.Column("entered_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_hub_forums_held_on", "hub_forums", ["held_on"])
    op.create_table(
        "hub_templates",
        sa.Column("id", Id, primary_key=True),
        _member(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("body", sa.JSON, nullable=False),
        sa.Column("published_at", Timestamp, nullable=False),
    )
    op.create_index("ix_hub_templates_member_id", "hub_templates", ["member_id"])


def downgrade() -> None:
    op.drop_table("hub_templates")
    op.drop_table("hub_forums")
    op.drop_table("hub_national_totals")
    op.drop_table("hub_period_reports")
