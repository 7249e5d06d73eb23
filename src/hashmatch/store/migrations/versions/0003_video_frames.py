"""Video frames as signals: frame number, timestamp and variant (a cropped
copy of the frame hashed for crop robustness) on content_signals, and the
one-hash-per-bank rule lifted for them (a video repeats frames, and two
videos may share one).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UNIQUE = "uq_content_signals_bank_type_value"
NOT_FRAMES = "signal_type != 'vpdq'"


COLUMNS = ("bank_id", "signal_type", "value")


def upgrade() -> None:
    bind = op.get_bind()
    columns: list[sa.Column[object]] = [
        sa.Column("frame", sa.Integer),
        sa.Column("timestamp", sa.Float),
        sa.Column("variant", sa.String(16)),
    ]
    [name] = [
        constraint["name"]
        for constraint in sa.inspect(bind).get_unique_constraints("content_signals")
        if tuple(constraint["column_names"]) == COLUMNS
    ]
    if bind.dialect.name == "sqlite":
        # SQLite cannot drop a table's constraint: batch mode rebuilds the table
        # without it (the naming convention names the constraint 0001 left unnamed).
        with op.batch_alter_table(
            "content_signals",
            recreate="always",
            naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"},
        ) as batch:
            for column in columns:
                batch.add_column(column)
            batch.drop_constraint(name or "uq_content_signals_bank_id", type_="unique")
    else:
        for column in columns:
            op.add_column("content_signals", column)
        op.drop_constraint(str(name), "content_signals", type_="unique")
    op.create_index(
        UNIQUE,
        "content_signals",
        list(COLUMNS),
        unique=True,
        sqlite_where=sa.text(NOT_FRAMES),
        postgresql_where=sa.text(NOT_FRAMES),
    )


def downgrade() -> None:
    op.execute("DELETE FROM content_signals WHERE signal_type = 'vpdq'")
    op.drop_index(UNIQUE, "content_signals")
    with op.batch_alter_table("content_signals", recreate="auto") as batch:
        batch.drop_column("variant")
        batch.drop_column("timestamp")
        batch.drop_column("frame")
        batch.create_unique_constraint("content_signals_bank_id_signal_type_value_key", COLUMNS)
