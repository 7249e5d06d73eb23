"""The act step: rules, webhooks, submissions, kept media, review items,
report requests, the webhook outbox (events, deliveries, attempts) and the
hash-chained audit log.  A fresh install gets one rule: any match in a match
bank goes to the review queue.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)
NOW = sa.func.now()

#: The rule a fresh install starts with (docs/actions.md).
DEFAULT_RULE = {
    "name": "review-any-match",
    "description": "Any match in a match bank goes to the default review queue.",
    "when": {"bank_kinds": ["match"]},
    "then": [{"action": "review", "queue": "default"}],
}


def _submission_fk(*, unique: bool = False, index: bool = False) -> sa.Column[int]:
    return sa.Column(
        "submission_id",
        Id,
        sa.ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
        unique=unique,
        index=index,
    )


def upgrade() -> None:
    rules = op.create_table(
        "rules",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("when", sa.JSON, nullable=False),
        sa.Column("then", sa.JSON, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", Id, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", sa.JSON, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("previous_secret", sa.String(100)),
        sa.Column("previous_secret_until", Timestamp),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("id", Id, primary_key=True),
        sa.Column("content_ref", sa.String(200), nullable=False, index=True),
        sa.Column("dedupe_key", sa.String(300)),
        sa.Column("user_ref", sa.String(200), index=True),
        sa.Column("uploaded_at", Timestamp),
        sa.Column("content_url", sa.Text),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("content_type", sa.String(16), nullable=False),
        sa.Column("signals", sa.JSON, nullable=False),
        sa.Column("matches", sa.JSON, nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("actions", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False, index=True),
    )
    op.create_index(
        "uq_submissions_dedupe_key",
        "submissions",
        ["dedupe_key"],
        unique=True,
        sqlite_where=sa.text("dedupe_key IS NOT NULL"),
        postgresql_where=sa.text("dedupe_key IS NOT NULL"),
    )
    op.create_table(
        "kept_media",
        sa.Column("id", Id, primary_key=True),
        _submission_fk(unique=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("nonce", sa.LargeBinary, nullable=False),
        sa.Column("ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("filename", sa.String(300)),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "review_items",
        sa.Column("id", Id, primary_key=True),
        _submission_fk(index=True),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("closed_at", Timestamp),
    )
    op.create_index("ix_review_items_open", "review_items", ["status", "queue", "priority"])
    op.create_table(
        "report_requests",
        sa.Column("id", Id, primary_key=True),
        _submission_fk(index=True),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column(
            "submission_id",
            Id,
            sa.ForeignKey("submissions.id", ondelete="SET NULL"),
            index=True,
        ),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", Id, primary_key=True),
        sa.Column("event_id", Id, sa.ForeignKey("events.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "webhook_id", Id, sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=False),
        sa.Column("leased_until", Timestamp),
        sa.Column("leased_by", sa.String(100)),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("delivered_at", Timestamp),
    )
    op.create_index("ix_deliveries_event_id", "deliveries", ["event_id"])
    op.create_index("ix_deliveries_webhook_id", "deliveries", ["webhook_id"])
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "delivery_attempts",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "delivery_id",
            Id,
            sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("attempted_at", Timestamp, nullable=False, index=True),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", Id, primary_key=True, autoincrement=False),
        sa.Column("at", Timestamp, nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False, index=True),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(300), nullable=False, index=True),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
        sa.Column("request_id", sa.String(64)),
        sa.Column("client", sa.String(100)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    connection = op.get_bind()
    connection.execute(
        rules.insert().values(
            name=DEFAULT_RULE["name"],
            enabled=True,
            priority=100,
            description=DEFAULT_RULE["description"],
            when=DEFAULT_RULE["when"],
            then=DEFAULT_RULE["then"],
            created_at=NOW,
            updated_at=NOW,
        )
    )


def downgrade() -> None:
    for table in (
        "audit_log",
        "delivery_attempts",
        "deliveries",
        "events",
        "report_requests",
        "review_items",
        "kept_media",
        "submissions",
        "webhooks",
        "rules",
    ):
        op.drop_table(table)
