"""Tables of the registry. Datetimes are timezone-aware UTC."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base


def utcnow() -> datetime:
    # Full precision: the order of events within one second matters (see accreditation._ceil_time).
    return datetime.now(timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns aware datetimes, also from SQLite which keeps no zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class OAuthClient(Base):
    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of a 256-bit random secret: the entropy makes a slow hash unnecessary.
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # operator | body
    body_id: Mapped[str | None] = mapped_column(ForeignKey("bodies.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    body: Mapped[Body | None] = relationship(back_populates="clients")


class SigningKey(Base):
    __tablename__ = "signing_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(20))  # registry | body
    body_id: Mapped[str | None] = mapped_column(ForeignKey("bodies.id"), index=True)
    kid: Mapped[str] = mapped_column(String(300), unique=True)  # full DID URL
    key_name: Mapped[str] = mapped_column(String(40))  # key-1, key-2 …
    algorithm: Mapped[str] = mapped_column(String(10))
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    active_from: Mapped[datetime] = mapped_column(UTCDateTime)
    active_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    body: Mapped[Body | None] = relationship(back_populates="keys")


class Category(Base):
    __tablename__ = "categories"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_zh: Mapped[str | None] = mapped_column(String(200))
    declared_unit: Mapped[str] = mapped_column(String(40))
    benchmark_value: Mapped[str | None] = mapped_column(String(40))  # decimal string
    benchmark_standard: Mapped[str | None] = mapped_column(String(300))
    benchmark_source: Mapped[str | None] = mapped_column(String(500))
    # Demonstration values are flagged so that no page or label passes them off as official.
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Body(Base):
    __tablename__ = "bodies"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # prefix of certificate numbers
    name: Mapped[str] = mapped_column(String(300))
    name_zh: Mapped[str | None] = mapped_column(String(300))
    country: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|suspended|withdrawn
    demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    accreditations: Mapped[list[Accreditation]] = relationship(
        back_populates="body", order_by="Accreditation.id")
    interruptions: Mapped[list[Interruption]] = relationship(
        back_populates="body", order_by="Interruption.id")
    keys: Mapped[list[SigningKey]] = relationship(back_populates="body", order_by="SigningKey.id")
    clients: Mapped[list[OAuthClient]] = relationship(back_populates="body")


class Accreditation(Base):
    """One accreditation decision; a change of scope or period adds a row, never edits one."""

    __tablename__ = "accreditations"

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    number: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    certificate_types: Mapped[list] = mapped_column(JSON)
    product_categories: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    body: Mapped[Body] = relationship(back_populates="accreditations")


class Interruption(Base):
    """A period in which a body may not certify: a suspension (ended by reinstatement) or a withdrawal."""

    __tablename__ = "interruptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # suspended | withdrawn
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(Text)

    body: Mapped[Body] = relationship(back_populates="interruptions")


class AuditEntry(Base):
    """Append-only: the application never updates or deletes a row."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120))  # operator:<clientId> | body:<bodyId> | cli
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(120), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))


class StatusList(Base):
    __tablename__ = "status_lists"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)  # r1, s1, …
    purpose: Mapped[str] = mapped_column(String(20))  # revocation | suspension
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[bytes] = mapped_column(LargeBinary)
    used: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Certificate(Base):
    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("revocation_list_id", "revocation_index"),
        UniqueConstraint("suspension_list_id", "suspension_index"),
        Index("ix_certificates_body_created", "body_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    type: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)  # active|suspended|revoked
    status_reason: Mapped[str | None] = mapped_column(Text)
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"), index=True)
    gtin: Mapped[str | None] = mapped_column(String(14), index=True)
    manufacturer_id: Mapped[str] = mapped_column(String(200), index=True)
    manufacturer_name: Mapped[str] = mapped_column(String(300))
    product_name: Mapped[str] = mapped_column(String(300))
    grade: Mapped[str | None] = mapped_column(String(4))
    pcf: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    subject: Mapped[dict] = mapped_column(JSON)
    credential: Mapped[str] = mapped_column(Text)  # compact JWS as signed
    kid: Mapped[str] = mapped_column(String(300))
    revocation_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    revocation_index: Mapped[int] = mapped_column(Integer)
    suspension_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    suspension_index: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("certificates.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    body: Mapped[Body] = relationship()
    offsets: Mapped[list[Offset]] = relationship(back_populates="certificate", order_by="Offset.id")


class CertificateBasis(Base):
    """A reduced-carbon or carbon-neutral certificate resting on a footprint certificate."""

    __tablename__ = "certificate_basis"

    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"), primary_key=True)
    based_on_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"), primary_key=True, index=True)


class Offset(Base):
    """A retired offset; the unique key is what makes one serial back one certificate only."""

    __tablename__ = "offsets"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "<registry>|<serial>" trimmed and case-folded (domain.neutrality.offset_key): the unique
    # index on it is what stops two requests, however simultaneous, from using one offset.
    identity: Mapped[str] = mapped_column(String(310), unique=True)
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"), index=True)
    registry_name: Mapped[str] = mapped_column("registry", String(100))
    serial_number: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[str] = mapped_column(String(40))  # t CO2e, decimal string
    vintage: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20))
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    project: Mapped[str] = mapped_column(String(500))

    certificate: Mapped[Certificate] = relationship(back_populates="offsets")


class CertificateCounter(Base):
    __tablename__ = "certificate_counters"

    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --------------------------------------------------------------------------- portal (people)

class User(Base):
    """A person who signs in to the portal: password + TOTP; operator, body admin or certifier."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(110), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(200))
    # Fernet token under the key-encryption key: a TOTP seed is a shared secret, never plain at rest.
    totp_secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    # The last accepted TOTP time step: a code is refused once used.
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    role: Mapped[str] = mapped_column(String(20))  # operator | body-admin | certifier
    body_id: Mapped[str | None] = mapped_column(ForeignKey("bodies.id"), index=True)
    lang: Mapped[str | None] = mapped_column(String(5))
    # Bumped on a password change or disabling: sessions carrying an older epoch end.
    password_epoch: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    body: Mapped[Body | None] = relationship()
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(back_populates="user", order_by="RecoveryCode.id")

    # The attributes a session manager (Flask-Login) asks of a signed-in person.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None

    def get_id(self) -> str:
        return str(self.id)


class RecoveryCode(Base):
    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class LoginFailure(Base):
    """One failed sign-in, counted per account (``email:…``) and per address (``ip:…``)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_scope_at", "scope", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(140))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invitation(Base):
    """A one-time link for a new staff account; only the token's hash is kept."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(110))
    role: Mapped[str] = mapped_column(String(20))
    body_id: Mapped[str | None] = mapped_column(ForeignKey("bodies.id"))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ImportBatch(Base):
    """An uploaded spreadsheet: its rows as parsed, and per row the outcome of issuing."""

    __tablename__ = "import_batches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str] = mapped_column(String(300))
    digest: Mapped[str] = mapped_column(String(64))
    rows: Mapped[list] = mapped_column(JSON)  # [{"row": n, "data": {...} | None, "errors": {...}}]
    results: Mapped[dict] = mapped_column(JSON, default=dict)  # row number → {id, number, grade} | {errors}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
