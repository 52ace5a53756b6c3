"""transparency log: entries, full tiles, checkpoints; built for what already exists

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("tlog_state",
                    sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column("size", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("id", name=op.f("pk_tlog_state")))
    op.create_table("tlog_entries",
                    sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("leaf_hash", sa.LargeBinary(), nullable=False),
                    sa.Column("entry", sa.LargeBinary(), nullable=False),
                    sa.Column("kind", sa.String(length=40), nullable=False),
                    sa.Column("certificate_id", sa.String(length=36), nullable=True),
                    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
                    sa.PrimaryKeyConstraint("idx", name=op.f("pk_tlog_entries")))
    op.create_index(op.f("ix_tlog_entries_certificate_id"), "tlog_entries", ["certificate_id"], unique=False)
    op.create_table("tlog_tiles",
                    sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("hashes", sa.LargeBinary(), nullable=False),
                    sa.Column("root", sa.LargeBinary(), nullable=False),
                    sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_tlog_tiles")))
    op.create_table("tlog_checkpoints",
                    sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column("root_hash", sa.LargeBinary(), nullable=False),
                    sa.Column("note", sa.Text(), nullable=False),
                    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint("size", name=op.f("pk_tlog_checkpoints")))
    op.create_index(op.f("ix_tlog_checkpoints_created_at"), "tlog_checkpoints", ["created_at"], unique=False)
    bind = op.get_bind()
    bind.execute(sa.text("INSERT INTO tlog_state (id, size) VALUES (1, 0)"))
    # The log starts with everything already recorded, in the order it happened.
    from registry import tlog

    tlog.bulk_append(bind, tlog.history_events(bind), legacy=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_tlog_checkpoints_created_at"), table_name="tlog_checkpoints")
    op.drop_table("tlog_checkpoints")
    op.drop_table("tlog_tiles")
    op.drop_index(op.f("ix_tlog_entries_certificate_id"), table_name="tlog_entries")
    op.drop_table("tlog_entries")
    op.drop_table("tlog_state")
