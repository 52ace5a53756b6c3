"""storage: certificates page by their issuance entry's log index; log entries keep only the entry

Every listing orders certificates by ``log_index`` (the index of the certificate's issuance entry in
the transparency log: unique and in issuance order), so the search indexes end with one integer
instead of ``(created_at, id)``. The log's entries lose what their entry already says (kind, time)
and the certificate id, which the certificate's ``log_index`` replaces; a proof asked for by leaf
hash seeks on an index of the hash's first 8 bytes.

Revision ID: 0012_log_index
Revises: 0011_tlog
Create Date: 2026-12-01
"""
import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0012_log_index"
down_revision = "0011_tlog"
branch_labels = None
depends_on = None

OLD = {"ix_certificates_created": [], "ix_certificates_body_created": ["body_id"],
       "ix_certificates_gtin_created": ["gtin"], "ix_certificates_manufacturer_created": ["manufacturer_id"],
       "ix_certificates_category_created": ["category_code"], "ix_certificates_type_created": ["type"],
       "ix_certificates_status_created": ["status"]}
NEW = {"ix_certificates_body_log": "body_id", "ix_certificates_gtin_log": "gtin",
       "ix_certificates_manufacturer_log": "manufacturer_id", "ix_certificates_category_log": "category_code",
       "ix_certificates_type_log": "type", "ix_certificates_status_log": "status"}
# A queue table: rows live seconds. Vacuumed after every thousand dead rows instead of after a
# fifth of the table, so its size follows the queue, not the number of certificates issued.
OUTBOX_VACUUM = "autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000"


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.add_column("certificates", sa.Column("log_index", sa.BigInteger(), nullable=True))
    else:  # SQLite adds a NOT NULL column only with a default; every insert sets it
        op.add_column("certificates", sa.Column("log_index", sa.BigInteger(), nullable=False, server_default="-1"))
    op.execute("UPDATE certificates SET log_index = (SELECT min(t.idx) FROM tlog_entries t "
               "WHERE t.certificate_id = certificates.id AND t.kind = 'certificate.issued')")
    if postgres:
        op.alter_column("certificates", "log_index", nullable=False)
    op.create_index("ix_certificates_log_index", "certificates", ["log_index"], unique=True)
    for name, column in NEW.items():
        op.create_index(name, "certificates", [column, "log_index"])
    for name in OLD:
        op.drop_index(name, table_name="certificates")
    op.drop_index("ix_tlog_entries_certificate_id", table_name="tlog_entries")
    for column in ("certificate_id", "kind", "created_at"):
        op.drop_column("tlog_entries", column)
    op.create_index("ix_tlog_entries_leaf_prefix", "tlog_entries", [sa.text("substr(leaf_hash, 1, 8)")])
    if postgres:
        op.execute(f"ALTER TABLE outbox_events SET ({OUTBOX_VACUUM})")
    else:
        op.execute("ANALYZE")


def downgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE outbox_events RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold)")
    op.drop_index("ix_tlog_entries_leaf_prefix", table_name="tlog_entries")
    op.add_column("tlog_entries", sa.Column("kind", sa.String(length=40), nullable=False, server_default=""))
    op.add_column("tlog_entries", sa.Column("certificate_id", sa.String(length=36), nullable=True))
    # SQLite adds a NOT NULL column only with a constant default; the entry's own time is filled in.
    op.add_column("tlog_entries", sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                                            server_default="1970-01-01 00:00:00"))
    entries = sa.table("tlog_entries", sa.column("idx", sa.BigInteger), sa.column("entry", sa.LargeBinary),
                       sa.column("kind", sa.String), sa.column("certificate_id", sa.String),
                       sa.column("created_at", sa.DateTime(timezone=True)))
    last = -1
    while True:
        rows = bind.execute(sa.select(entries.c.idx, entries.c.entry).where(entries.c.idx > last)
                            .order_by(entries.c.idx).limit(2000)).all()
        if not rows:
            break
        events = [(idx, json.loads(bytes(entry))) for idx, entry in rows]
        bind.execute(sa.update(entries).where(entries.c.idx == sa.bindparam("b_idx")),
                     [{"b_idx": idx, "kind": e["kind"], "certificate_id": e.get("certificateId"),
                       "created_at": datetime.fromisoformat(e["time"].replace("Z", "+00:00"))} for idx, e in events])
        last = rows[-1][0]
    if postgres:
        op.alter_column("tlog_entries", "created_at", server_default=sa.func.now())
    op.create_index("ix_tlog_entries_certificate_id", "tlog_entries", ["certificate_id"])
    for name, lead in OLD.items():
        op.create_index(name, "certificates", [*lead, "created_at", "id"])
    for name in NEW:
        op.drop_index(name, table_name="certificates")
    op.drop_index("ix_certificates_log_index", table_name="certificates")
    op.drop_column("certificates", "log_index")
