"""Reported feedback: a filed CyberTipline report queues, in the opinions
outbox, one ``reported`` opinion per matched bank content a TAXII exchange
sent (``exchange/reported.py``), and the hub keeps the STIX Sightings they
become, with their counts (docs/hub-taxii.md#feedback).

* ``opinions.report_id``: the report a ``reported`` opinion belongs to;
  ``opinions.item_id`` may be empty (such an opinion has no review decision).
* ``hub_objects.sighting_count``: a sighting's ``count``, summed per indicator.

On SQLite, making ``item_id`` nullable rebuilds the ``opinions`` table
(alembic's batch mode); on PostgreSQL it is a change of the catalogue only.
Downgrading deletes the ``reported`` opinions: before 0020 nothing sends them.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("opinions") as table:
        table.alter_column("item_id", existing_type=Id, nullable=True)
        table.add_column(sa.Column("report_id", Id))
        table.create_index("ix_opinions_report_id", ["report_id"])
    with op.batch_alter_table("hub_objects") as table:
        table.add_column(sa.Column("sighting_count", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("hub_objects") as table:
        table.drop_column("sighting_count")
    op.execute("DELETE FROM opinions WHERE item_id IS NULL")
    with op.batch_alter_table("opinions") as table:
        table.drop_index("ix_opinions_report_id")
        table.drop_column("report_id")
        table.alter_column("item_id", existing_type=Id, nullable=False)
