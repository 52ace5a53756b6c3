"""scale: search indexes ending in (created_at, id), the credential stored once, trust and status versions

Revision ID: 0008
Revises: 0002
Create Date: 2026-12-01
"""
import base64
import json

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0002"
branch_labels = None
depends_on = None

SINGLE = {"ix_certificates_body_id": "body_id", "ix_certificates_category_code": "category_code",
          "ix_certificates_gtin": "gtin", "ix_certificates_manufacturer_id": "manufacturer_id",
          "ix_certificates_status": "status", "ix_certificates_type": "type"}
COMPOSITE = {"ix_certificates_created": [], "ix_certificates_body_created": ["body_id"],
             "ix_certificates_gtin_created": ["gtin"], "ix_certificates_manufacturer_created": ["manufacturer_id"],
             "ix_certificates_category_created": ["category_code"], "ix_certificates_type_created": ["type"],
             "ix_certificates_status_created": ["status"]}


def upgrade() -> None:
    for name in SINGLE:
        op.drop_index(name, table_name="certificates")
    op.drop_index("ix_certificates_body_created", table_name="certificates")
    for name, lead in COMPOSITE.items():
        op.create_index(name, "certificates", [*lead, "created_at", "id"])
    # The subject is the signed credential's credentialSubject: nothing is lost by dropping the copy.
    op.drop_column("certificates", "subject")
    versions = op.create_table(
        "registry_versions",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_registry_versions")))
    op.bulk_insert(versions, [{"name": "trust", "value": 1}, {"name": "status", "value": 1}])
    if op.get_bind().dialect.name == "sqlite":
        # A never-analysed SQLite picks low-selectivity indexes; the app keeps statistics fresh
        # afterwards with PRAGMA optimize (registry.db).
        op.execute("ANALYZE")


def downgrade() -> None:
    op.drop_table("registry_versions")
    op.add_column("certificates", sa.Column("subject", sa.JSON(), nullable=True))
    bind = op.get_bind()
    certificates = sa.table("certificates", sa.column("id", sa.String), sa.column("credential", sa.Text),
                            sa.column("subject", sa.JSON))
    rows = bind.execute(sa.select(certificates.c.id, certificates.c.credential)).all()
    for cert_id, credential in rows:
        part = credential.split(".")[1]
        subject = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))["credentialSubject"]
        bind.execute(certificates.update().where(certificates.c.id == cert_id).values(subject=subject))
    if bind.dialect.name == "postgresql":
        op.alter_column("certificates", "subject", nullable=False)
    # SQLite keeps the restored column nullable: making it NOT NULL would rebuild the table.
    for name in COMPOSITE:
        op.drop_index(name, table_name="certificates")
    op.create_index("ix_certificates_body_created", "certificates", ["body_id", "created_at"])
    for name, column in SINGLE.items():
        op.create_index(name, "certificates", [column])
