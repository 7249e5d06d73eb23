"""Reporting: CyberTipline reports, their files and calls; preserved evidence
(packages, encrypted objects, legal holds); daily counts for transparency.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def _parent(
    name: str, table: str, *, ondelete: str = "CASCADE", unique: bool = False
) -> sa.Column[int]:
    return sa.Column(
        name,
        Id,
        sa.ForeignKey(f"{table}.id", ondelete=ondelete),
        nullable=False,
        index=not unique,
        unique=unique,
    )


def upgrade() -> None:
    with op.batch_alter_table("report_requests") as table:
        table.add_column(sa.Column("report_id", Id))
    op.create_index("ix_report_requests_report_id", "report_requests", ["report_id"])
    op.create_table(
        "cybertip_reports",
        sa.Column("id", Id, primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("environment", sa.String(16), nullable=False),
        sa.Column("ncmec_report_id", sa.String(64), index=True),
        sa.Column("user_ref", sa.String(200), index=True),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("xml", sa.Text),
        sa.Column("call_in_flight", sa.String(64)),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False, index=True),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("opened_at", Timestamp),
        sa.Column("changed_at", Timestamp),
        sa.Column("finished_at", Timestamp, index=True),
        sa.Column("retracted_at", Timestamp),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", Timestamp),
        sa.Column("leased_by", sa.String(100)),
        sa.Column("leased_until", Timestamp),
        sa.Column("last_error", sa.Text),
        sa.Column("error_kind", sa.String(16)),
    )
    op.create_index("ix_cybertip_reports_due", "cybertip_reports", ["status", "next_attempt_at"])
    op.create_table(
        "cybertip_files",
        sa.Column("id", Id, primary_key=True),
        _parent("report_id", "cybertip_reports"),
        sa.Column("item_key", sa.String(40), nullable=False, unique=True),
        sa.Column("review_item_id", Id, index=True),
        _parent("submission_id", "submissions", ondelete="RESTRICT"),
        sa.Column("filename", sa.String(300), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("md5", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("classification", sa.String(2)),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("viewed_by_esp", sa.Boolean, nullable=False),
        sa.Column("publicly_available", sa.Boolean),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ncmec_file_id", sa.String(64)),
    )
    op.create_table(
        "cybertip_calls",
        sa.Column("id", Id, primary_key=True),
        _parent("report_id", "cybertip_reports"),
        sa.Column("endpoint", sa.String(16), nullable=False),
        sa.Column("at", Timestamp, nullable=False),
        sa.Column("elapsed_ms", sa.Float, nullable=False),
        sa.Column("http_status", sa.Integer),
        sa.Column("request_id", sa.String(100)),
        sa.Column("response_code", sa.Integer),
        sa.Column("response_description", sa.Text),
        sa.Column("request", sa.Text, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_table(
        "evidence_packages",
        sa.Column("id", Id, primary_key=True),
        _parent("report_id", "cybertip_reports", ondelete="RESTRICT", unique=True),
        sa.Column("store", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("retain_until", Timestamp, nullable=False, index=True),
        sa.Column("purged_at", Timestamp),
        sa.Column("manifest", sa.JSON, nullable=False),
    )
    op.create_table(
        "evidence_objects",
        sa.Column("id", Id, primary_key=True),
        _parent("package_id", "evidence_packages"),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("master_key_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "evidence_holds",
        sa.Column("id", Id, primary_key=True),
        _parent("package_id", "evidence_packages"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("until", Timestamp),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("released_by", sa.String(200)),
        sa.Column("released_at", Timestamp),
    )
    op.create_table(
        "daily_counts",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in (
        "daily_counts",
        "evidence_holds",
        "evidence_objects",
        "evidence_packages",
        "cybertip_calls",
        "cybertip_files",
    ):
        op.drop_table(name)
    op.drop_index("ix_cybertip_reports_due", "cybertip_reports")
    op.drop_table("cybertip_reports")
    op.drop_index("ix_report_requests_report_id", "report_requests")
    with op.batch_alter_table("report_requests") as table:
        table.drop_column("report_id")
