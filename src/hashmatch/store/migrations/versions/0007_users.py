"""Users of the web UI, their web sessions, and failed sign-ins per name.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("disabled_at", Timestamp),
        sa.Column("last_login_at", Timestamp),
        sa.Column("password_changed_at", Timestamp, nullable=False),
        sa.Column("totp_secret", sa.String(64)),
        sa.Column("totp_enabled_at", Timestamp),
        sa.Column("totp_pending_secret", sa.String(64)),
        sa.Column("totp_last_step", sa.Integer),
    )
    op.create_table(
        "web_sessions",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            Id,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("last_seen_at", Timestamp, nullable=False),
        sa.Column("second_factor_done", sa.Boolean, nullable=False),
        sa.Column("ended_at", Timestamp),
    )
    op.create_table(
        "login_throttle",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", Timestamp),
        sa.Column("locked_until", Timestamp),
    )


def downgrade() -> None:
    op.drop_table("login_throttle")
    op.drop_table("web_sessions")
    op.drop_table("users")
