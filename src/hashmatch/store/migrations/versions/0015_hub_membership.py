"""The coalition hub's membership: applications, criterion checks, members,
their signing keys and the notices they are sent.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hub_applications",
        sa.Column("id", Id, primary_key=True),
        sa.Column("organisation", sa.String(200), nullable=False),
        sa.Column("website", sa.String(500), nullable=False),
        sa.Column("product", sa.Text, nullable=False),
        sa.Column("contact_name", sa.String(200), nullable=False),
        sa.Column("contact_email", sa.String(320), nullable=False),
        sa.Column("attestations", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("rejection_reason", sa.Text),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("submitted_at", Timestamp, nullable=False),
        sa.Column("decided_by", sa.String(200)),
        sa.Column("decided_at", Timestamp),
    )
    op.create_table(
        "hub_criterion_checks",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "application_id",
            Id,
            sa.ForeignKey("hub_applications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("criterion", sa.String(32), nullable=False),
        sa.Column("checked_by", sa.String(200), nullable=False),
        sa.Column("checked_at", Timestamp, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.UniqueConstraint("application_id", "criterion", name="uq_hub_criterion_checks"),
    )
    op.create_table(
        "hub_members",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "application_id",
            Id,
            sa.ForeignKey("hub_applications.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("website", sa.String(500), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("state_reason", sa.Text, nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=False),
        sa.Column("approved_at", Timestamp, nullable=False),
        sa.Column("reattest_due", Timestamp, nullable=False),
        sa.Column("api_key_name", sa.String(100), nullable=False, unique=True),
        sa.Column("dues_invoice", sa.String(100)),
        sa.Column("dues_due", Timestamp),
        sa.Column("dues_paid", sa.Boolean, nullable=False),
        sa.Column("dues_grace_days", sa.Integer),
    )
    op.create_index("ix_hub_members_state", "hub_members", ["state"])
    op.create_table(
        "hub_member_keys",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "member_id",
            Id,
            sa.ForeignKey("hub_members.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("key_id", sa.String(100), nullable=False, unique=True),
        sa.Column("public_key", sa.Text, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("revoked_at", Timestamp),
    )
    op.create_table(
        "hub_notices",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "member_id",
            Id,
            sa.ForeignKey("hub_members.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("hub_notices")
    op.drop_table("hub_member_keys")
    op.drop_index("ix_hub_members_state", table_name="hub_members")
    op.drop_table("hub_members")
    op.drop_table("hub_criterion_checks")
    op.drop_table("hub_applications")
