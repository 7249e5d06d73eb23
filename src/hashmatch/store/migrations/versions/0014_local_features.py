"""Local features (the second matching stage): one features row per bank image,
and the bank settings that turn the stage on and set its inlier threshold.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "content_features",
        sa.Column(
            "content_id",
            Id,
            sa.ForeignKey("contents.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "bank_id",
            Id,
            sa.ForeignKey("banks.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("features", sa.LargeBinary, nullable=False),
        sa.Column("keypoints", sa.Integer, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    # Plain ADD COLUMN, never batch mode (see 0011: a rebuilt ``banks`` would
    # cascade to every content on SQLite).  Off for every bank: the stage
    # applies to images added from when a bank turns it on.
    op.add_column(
        "banks", sa.Column("local_features", sa.Boolean, nullable=False, server_default="0")
    )
    op.add_column("banks", sa.Column("min_inliers", sa.Integer))
    # Every index refresh asks which banks use the stage: never a table scan.
    op.create_index("ix_banks_local_features", "banks", ["local_features"])


def downgrade() -> None:
    op.drop_index("ix_banks_local_features", table_name="banks")
    op.drop_column("banks", "min_inliers")
    op.drop_column("banks", "local_features")
    op.drop_table("content_features")
