"""procurement: callback credentials, canonical certificate numbers, subscriptions, outbox, deliveries

Revision ID: 0006
Revises: 0002
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.add_column(sa.Column("callback_client_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("callback_secret_encrypted", sa.LargeBinary(), nullable=True))
    # Added NOT NULL with a default and then filled, never by rebuilding the table: on SQLite a
    # rebuild drops `certificates`, which its foreign keys refuse once certificates exist.
    op.add_column("certificates", sa.Column("number_key", sa.String(length=40), nullable=False, server_default=""))
    op.execute("UPDATE certificates SET number_key = UPPER(REPLACE(REPLACE(number, '-', ''), ' ', ''))")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("certificates", "number_key", server_default=None)
    op.create_index(op.f("ix_certificates_number_key"), "certificates", ["number_key"], unique=False)
    op.create_index(op.f("ix_certificates_valid_until"), "certificates", ["valid_until"], unique=False)
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("callback_url", sa.Text(), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_client_id"), "subscriptions", ["client_id"], unique=False)
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("certificate_id", sa.String(length=36), nullable=False),
        sa.Column("once_key", sa.String(length=120), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("once_key", name=op.f("uq_outbox_events_once_key")),
    )
    op.create_index(op.f("ix_outbox_events_certificate_id"), "outbox_events", ["certificate_id"], unique=False)
    op.create_index(op.f("ix_outbox_events_fanned_out_at"), "outbox_events", ["fanned_out_at"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("event", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"],
                                name=op.f("fk_deliveries_subscription_id_subscriptions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    op.create_index("ix_deliveries_due", "deliveries", ["status", "next_attempt_at"], unique=False)
    op.create_index(op.f("ix_deliveries_subscription_id"), "deliveries", ["subscription_id"], unique=False)
    op.create_index(op.f("ix_deliveries_client_id"), "deliveries", ["client_id"], unique=False)


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("outbox_events")
    op.drop_table("subscriptions")
    op.drop_index(op.f("ix_certificates_valid_until"), table_name="certificates")
    op.drop_index(op.f("ix_certificates_number_key"), table_name="certificates")
    op.drop_column("certificates", "number_key")  # SQLite ≥ 3.35 drops a column without a rebuild
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("callback_secret_encrypted")
        batch.drop_column("callback_client_id")
