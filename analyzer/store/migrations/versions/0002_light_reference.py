"""analysis.light_reference: the eyes' reference colours a series maps each photo's light with.

Revision ID: 0002_light_reference
Revises: 0001_initial
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_light_reference"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("analysis") as batch:
        batch.add_column(sa.Column("light_reference", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("analysis") as batch:
        batch.drop_column("light_reference")
