"""Stored image variants: a bank setting, on for match banks and off for allowlists.

Variant rows themselves need no new column: ``content_signals.variant``
exists since 0003 (video frames); an image's variant row has no frame.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN with a constant default, never batch mode: on SQLite
    # that rebuilds ``banks``, and dropping the old table would cascade to
    # every content.  ('0' reads as false on both engines.)
    op.add_column(
        "banks", sa.Column("image_variants", sa.Boolean, nullable=False, server_default="0")
    )
    # The default a new bank gets: images added from now on to a match bank
    # store their variants; an allowlist suppresses only what it holds.
    op.execute("UPDATE banks SET image_variants = (kind = 'match')")


def downgrade() -> None:
    # Code before 0011 would take an image's variant for its own hash.
    op.execute("DELETE FROM content_signals WHERE variant IS NOT NULL AND frame IS NULL")
    op.drop_column("banks", "image_variants")
