"""scale: search indexes ending in (created_at, id), the credential stored once, trust and status versions

Revision ID: 0008
Revises: 0002
Create Date: 2026-12-01
"""
import base64
import json

import sqlalchemy as sa
from alembic import op

from registry.models import pack_jws, unpack_jws

revision = "0008"
down_revision = "0009"
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
    _pack_credentials()
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


def _rows(bind, source, targets, convert) -> None:
    """Fill ``targets`` from ``source`` in chunks, keyed by id (a million rows fit no list)."""
    table = sa.table("certificates", sa.column("id", sa.String), source, *targets)
    last = ""
    while True:
        rows = bind.execute(sa.select(table.c.id, source).where(table.c.id > last)
                            .order_by(table.c.id).limit(2000)).all()
        if not rows:
            return
        bind.execute(sa.update(table).where(table.c.id == sa.bindparam("b_id")),
                     [{"b_id": cert_id, **convert(value)} for cert_id, value in rows])
        last = rows[-1][0]


def _swap_columns(drop: list[str], rename: tuple[str, str]) -> None:
    # Native ALTERs only: rebuilding the table on SQLite would drop a table other tables
    # reference, which foreign keys refuse inside the migration's transaction.
    for column in drop:
        op.drop_column("certificates", column)
    old, new = rename
    op.execute(f"ALTER TABLE certificates RENAME COLUMN {old} TO {new}")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("certificates", new, server_default=None)
    # SQLite keeps the placeholder default the NOT NULL column was added with; every insert sets it.


def _pack_credentials() -> None:
    """The credential packed (registry.models.pack_jws); its subject and kid are read from it,
    so their copies go. Nothing is lost: both are inside the signed credential."""
    op.add_column("certificates", sa.Column("credential_packed", sa.LargeBinary(), nullable=False, server_default=""))
    _rows(op.get_bind(), sa.column("credential", sa.Text), [sa.column("credential_packed", sa.LargeBinary)],
          lambda text: {"credential_packed": pack_jws(text)})
    _swap_columns(["credential", "subject", "kid"], ("credential_packed", "credential"))


def _unpack_credentials() -> None:
    op.add_column("certificates", sa.Column("credential_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("certificates", sa.Column("subject", sa.JSON(), nullable=True))
    op.add_column("certificates", sa.Column("kid", sa.String(length=300), nullable=True))

    def convert(packed):
        text = unpack_jws(packed)
        header, payload = (json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
                           for p in text.split(".")[:2])
        return {"credential_text": text, "subject": payload["credentialSubject"], "kid": header["kid"]}

    _rows(op.get_bind(), sa.column("credential", sa.LargeBinary),
          [sa.column("credential_text", sa.Text), sa.column("subject", sa.JSON), sa.column("kid", sa.String)], convert)
    _swap_columns(["credential"], ("credential_text", "credential"))
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("certificates", "subject", nullable=False)
        op.alter_column("certificates", "kid", nullable=False)
    # SQLite keeps the restored subject and kid nullable rather than rebuild the table again.


def downgrade() -> None:
    op.drop_table("registry_versions")
    _unpack_credentials()
    for name in COMPOSITE:
        op.drop_index(name, table_name="certificates")
    op.create_index("ix_certificates_body_created", "certificates", ["body_id", "created_at"])
    for name, column in SINGLE.items():
        op.create_index(name, "certificates", [column])
