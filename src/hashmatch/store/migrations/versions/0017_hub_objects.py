"""The hub's TAXII 2.1 collections, their grants, the signed objects members
post and the status of each post.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "hub_collections",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("identifiers", sa.String(8), nullable=False),
        sa.Column("last_added", Id, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )
    op.create_table(
        "hub_collection_grants",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "collection_id",
            sa.String(36),
            sa.ForeignKey("hub_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "member_id", Id, sa.ForeignKey("hub_members.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("can_read", sa.Boolean, nullable=False),
        sa.Column("can_write", sa.Boolean, nullable=False),
        sa.UniqueConstraint("collection_id", "member_id", name="uq_hub_collection_grants"),
    )
    op.create_index("ix_hub_collection_grants_member_id", "hub_collection_grants", ["member_id"])
    op.create_table(
        "hub_objects",
        sa.Column("id", Id, primary_key=True),
        sa.Column(
            "collection_id",
            sa.String(36),
            sa.ForeignKey("hub_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("stix_id", sa.String(100), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("modified", sa.String(40), nullable=False),
        sa.Column("modified_us", Id, nullable=False),
        sa.Column("date_added", Id, nullable=False),
        sa.Column("publisher_id", Id, sa.ForeignKey("hub_members.id"), nullable=False),
        sa.Column("object", sa.JSON, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("is_latest", sa.Boolean, nullable=False),
        sa.Column("refers_to", sa.String(100)),
        sa.Column("verdict", sa.String(16)),
        sa.UniqueConstraint(
            "collection_id", "stix_id", "modified_us", name="uq_hub_objects_version"
        ),
        sa.UniqueConstraint("collection_id", "date_added", name="uq_hub_objects_added"),
    )
    op.create_index("ix_hub_objects_stix_id", "hub_objects", ["collection_id", "stix_id"])
    op.create_index("ix_hub_objects_refers_to", "hub_objects", ["refers_to"])
    op.create_index("ix_hub_objects_publisher", "hub_objects", ["publisher_id", "type"])
    op.create_table(
        "hub_object_status",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column(
            "collection_id",
            sa.String(36),
            sa.ForeignKey("hub_collections.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("member_id", Id, sa.ForeignKey("hub_members.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request_timestamp", Timestamp, nullable=False),
        sa.Column("total_count", sa.Integer, nullable=False),
        sa.Column("success_count", sa.Integer, nullable=False),
        sa.Column("failure_count", sa.Integer, nullable=False),
        sa.Column("pending_count", sa.Integer, nullable=False),
        sa.Column("successes", sa.JSON, nullable=False),
        sa.Column("failures", sa.JSON, nullable=False),
    )
    op.create_index("ix_hub_object_status_member_id", "hub_object_status", ["member_id"])


def downgrade() -> None:
    op.drop_table("hub_object_status")
    op.drop_table("hub_objects")
    op.drop_table("hub_collection_grants")
    op.drop_table("hub_collections")
