"""flights.origin: the WGS84 origin (lat, lon) of an uploaded beam or fixed-sensor data set, whose
geometry is in local metres about it (null for flight logs, which carry their own positions);
flights.started_at / ended_at: a flight log's first and last clock time (null without clock
times), so that sorties of one survey can be checked before a joint run is queued;
missions.settings: what a mission asks of every run (its estimator settings)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flights") as batch:
        batch.add_column(sa.Column("origin", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("missions") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("missions") as batch:
        batch.drop_column("settings")
    with op.batch_alter_table("flights") as batch:
        batch.drop_column("ended_at")
        batch.drop_column("started_at")
        batch.drop_column("origin")
