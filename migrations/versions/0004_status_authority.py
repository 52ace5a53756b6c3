"""who holds a certificate's suspension (operator | body | system)

Revision ID: 0004
Revises: 0008
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificates") as batch:
        batch.add_column(sa.Column("suspended_by", sa.String(length=20), nullable=True))
    # Suspensions made before this column: a cascade left its mark in the reason, a body its
    # actor in the audit trail; any other is taken as the operator's (only the operator lifts it).
    op.execute("""UPDATE certificates SET suspended_by = 'system'
                  WHERE status = 'suspended' AND status_reason LIKE 'basis certificate % revoked:%'""")
    op.execute("""UPDATE certificates SET suspended_by = 'body'
                  WHERE status = 'suspended' AND suspended_by IS NULL AND (
                    SELECT a.actor FROM audit_log a
                    WHERE a.target_type = 'certificate' AND a.target_id = certificates.id
                      AND a.action = 'certificate.suspended'
                    ORDER BY a.id DESC LIMIT 1) LIKE 'body:%'""")
    op.execute("""UPDATE certificates SET suspended_by = 'operator'
                  WHERE status = 'suspended' AND suspended_by IS NULL""")


def downgrade() -> None:
    op.drop_column("certificates", "suspended_by")  # SQLite ≥ 3.35 drops a column without a rebuild
