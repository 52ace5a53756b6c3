"""transparency log: the right edge of the latest stored checkpoint's tree, stored with it

Revision ID: 0011_tlog
Revises: 0010
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0011_tlog"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("tlog_edges",
                    sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("hashes", sa.LargeBinary(), nullable=False),
                    sa.PrimaryKeyConstraint("size", name=op.f("pk_tlog_edges")))


def downgrade() -> None:
    op.drop_table("tlog_edges")
