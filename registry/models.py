"""Tables of the registry. Datetimes are timezone-aware UTC."""

from __future__ import annotations

import base64
import json
import struct
import uuid
import zlib
from datetime import datetime, timezone
from functools import lru_cache

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, TypeDecorator, UniqueConstraint, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base


def utcnow() -> datetime:
    # Full precision: the order of events within one second matters (see accreditation._ceil_time).
    return datetime.now(timezone.utc)


@lru_cache(maxsize=4096)
def credential_payload(credential: str) -> dict:
    """The payload of a compact JWS we signed and stored, without checking the signature again.

    Only for credentials read from our own table; anything from outside goes through the verifier.
    """
    payload = credential.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@lru_cache(maxsize=1024)
def credential_header(credential: str) -> dict:
    return json.loads(_b64d(credential.split(".")[0]))


def json_copy(value):
    """A deep copy of decoded JSON (dicts, lists and scalars), several times faster than ``copy.deepcopy``."""
    if isinstance(value, dict):
        return {k: json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_copy(v) for v in value]
    return value


def new_id() -> str:
    return str(uuid.uuid4())


def number_key(number: str) -> str:
    """A certificate number as matched: upper case, no whitespace, no hyphens."""
    return "".join(number.split()).replace("-", "").replace("\u2010", "").replace("\u2013", "").upper()


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


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


#: Preset deflate dictionary of what every credential repeats (names, constant URLs, types).
#: Frozen: stored rows depend on it byte for byte; a new dictionary needs a new format byte.
_ZDICT_V2 = (
    '{"typ":"vc+jwt","alg":"EdDSA","kid":"did:web:#key-1","cty":"vc"}{"typ":"vc+jwt","alg":"ES256",'
    '"@context":["https://www.w3.org/ns/credentials/v2","/contexts/carbon-label/v1"],"id":"urn:uuid:",'
    '"type":["VerifiableCredential","CarbonFootprintCertificate","LowCarbonCertificate",'
    '"ReducedCarbonCertificate","CarbonNeutralCertificate"],"issuer":"did:web::bodies:",'
    '"validFrom":"T00:00:00Z","validUntil":"T23:59:59Z","credentialSubject":{"id":"/v/",'
    '"type":"CarbonLabelledProduct","certificateNumber":"-2026-00000","certificateType":"carbon-footprint",'
    '"low-carbon","reduced-carbon","carbon-neutral","precedingIds":["urn:uuid:"],'
    '"product":{"name":"","nameZh":"","category":"","gtin":"0690","model":"","manufacturer":{"name":"","id":"urn:uscc:"}},'
    '"footprint":{"declaredUnitOfMeasurement":"kilogram","declaredUnitAmount":"1",'
    '"pcfExcludingBiogenicUptake":"0.","pcfIncludingBiogenicUptake":"0.",'
    '"referencePeriodStart":"-01-01T00:00:00Z","referencePeriodEnd":"-12-31T23:59:59Z",'
    '"boundary":"cradle-to-gate","cradle-to-grave","ipccCharacterizationFactors":["AR6"],'
    '"crossSectoralStandards":["ISO14067","GB/T24067"],"stages":{"rawMaterialAcquisition":"0.",'
    '"rawMaterialTransport":"0.","manufacturing":"0.","distribution":"0.","use":"0.","endOfLife":"0."}},'
    '"baseline":{"certificateId":"urn:uuid:","certificateNumber":"","pcf":"0."},"reduction":{"percent":"","tier":""},'
    '"neutrality":{"level":"","coveredQuantity":"","renewableElectricityShare":"","emissionsCovered":"",'
    '"offsets":[{"registry":"CCER","serialNumber":"","quantity":"","vintage":"","kind":"removal","avoidance",'
    '"retiredAt":"T00:00:00Z","project":""}]},'
    '"benchmark":{"value":"0.","standard":"","source":""},'
    '"grade":{"scheme":"cn-carbon-label","schemeVersion":"1","value":""}},'
    '"credentialStatus":[{"id":"/status/r1#","type":"BitstringStatusListEntry","statusPurpose":"revocation",'
    '"statusListIndex":"","statusListCredential":"/status/r1"},{"id":"/status/s1#",'
    '"type":"BitstringStatusListEntry","statusPurpose":"suspension","statusListIndex":"",'
    '"statusListCredential":"/status/s1"}]}').encode()


def pack_jws(compact: str) -> bytes:
    """A compact JWS as ``0x02 || deflate(len(header) len(payload) header payload signature)``,
    deflated with :data:`_ZDICT_V2`.

    Base64url costs a third more bytes and credentials repeat the same names and URLs, so the
    signed credential is kept at about a sixth of its text size; :func:`unpack_jws` gives back the
    identical text. A token whose segments are not canonical base64url is kept as text
    (``0x00 || ascii``).
    """
    parts = compact.split(".")
    if len(parts) == 3:
        try:
            raw = [_b64d(p) for p in parts]
        except ValueError:
            raw = None
        if raw is not None and [_b64e(r) for r in raw] == parts and len(raw[0]) < 65536:
            header, payload, signature = raw
            blob = struct.pack(">HI", len(header), len(payload)) + header + payload + signature
            deflate = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _ZDICT_V2)
            return b"\x02" + deflate.compress(blob) + deflate.flush()
    return b"\x00" + compact.encode("ascii")


def unpack_jws(stored: bytes) -> str:
    stored = bytes(stored)
    if stored[:1] == b"\x00":
        return stored[1:].decode("ascii")
    if stored[:1] != b"\x02":
        raise ValueError("unknown stored credential format")
    inflate = zlib.decompressobj(-15, _ZDICT_V2)
    blob = inflate.decompress(stored[1:]) + inflate.flush()
    h, p = struct.unpack(">HI", blob[:6])
    header, payload, signature = blob[6:6 + h], blob[6 + h:6 + h + p], blob[6 + h + p:]
    return ".".join((_b64e(header), _b64e(payload), _b64e(signature)))


class CompactJWS(TypeDecorator):
    """A compact JWS stored packed (:func:`pack_jws`); reads and writes see the text itself."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else pack_jws(value)

    def process_result_value(self, value, dialect):
        return None if value is None else unpack_jws(value)


class OAuthClient(Base):
    __tablename__ = "oauth_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of a 256-bit random secret: the entropy makes a slow hash unnecessary.
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))  # operator | body | procurement
    body_id: Mapped[str | None] = mapped_column(ForeignKey("bodies.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the registry presents at a PACT requester's token endpoint. The secret is sent out,
    # so it is kept Fernet-encrypted under the key-encryption key, never hashed.
    callback_client_id: Mapped[str | None] = mapped_column(String(200))
    callback_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)

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
        # Every paged search orders by log_index (issuance order): one index per filter ends with it,
        # so a page is read in index order, never sorted (tests/registry/test_search_plans.py). An
        # integer key keeps these indexes small: (created_at, id) cost ~60 bytes an entry.
        Index("ix_certificates_log_index", "log_index", unique=True),
        Index("ix_certificates_body_log", "body_id", "log_index"),
        Index("ix_certificates_gtin_log", "gtin", "log_index"),
        Index("ix_certificates_manufacturer_log", "manufacturer_id", "log_index"),
        Index("ix_certificates_category_log", "category_code", "log_index"),
        Index("ix_certificates_type_log", "type", "log_index"),
        Index("ix_certificates_status_log", "status", "log_index"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # The number upper-cased without spaces or hyphens: what a typed or pasted number is matched on.
    number_key: Mapped[str] = mapped_column(String(40), index=True, default=lambda ctx: number_key(
        ctx.get_current_parameters()["number"]))
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"))
    type: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|suspended|revoked
    status_reason: Mapped[str | None] = mapped_column(Text)
    # Who holds a suspension (operator | body | system): only they lift it (the operator any).
    suspended_by: Mapped[str | None] = mapped_column(String(20))
    category_code: Mapped[str] = mapped_column(ForeignKey("categories.code"))
    gtin: Mapped[str | None] = mapped_column(String(14))
    manufacturer_id: Mapped[str] = mapped_column(String(200))
    manufacturer_name: Mapped[str] = mapped_column(String(300))
    product_name: Mapped[str] = mapped_column(String(300))
    grade: Mapped[str | None] = mapped_column(String(4))
    pcf: Mapped[str] = mapped_column(String(40))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the worker's expiry scan
    # The credential subject is not stored again: it is read from the signed payload (``subject``).
    credential: Mapped[str] = mapped_column(CompactJWS)  # compact JWS as signed, stored packed
    revocation_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    revocation_index: Mapped[int] = mapped_column(Integer)
    suspension_list_id: Mapped[str] = mapped_column(ForeignKey("status_lists.id"))
    suspension_index: Mapped[int] = mapped_column(Integer)
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("certificates.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The index of its issuance entry in the transparency log: unique, in the order certificates
    # were issued, and what every listing pages by.
    log_index: Mapped[int] = mapped_column(BigInteger)

    body: Mapped[Body] = relationship()
    offsets: Mapped[list[Offset]] = relationship(back_populates="certificate", order_by="Offset.id")

    @property
    def subject(self) -> dict:
        """``credentialSubject`` of the stored credential (a fresh copy; decoded once per credential)."""
        return json_copy(credential_payload(self.credential)["credentialSubject"])

    @property
    def kid(self) -> str:
        """The key the credential was signed with, from its protected header."""
        return credential_header(self.credential)["kid"]


class CertificateBasis(Base):
    """A reduced-carbon or carbon-neutral certificate resting on a footprint certificate."""

    __tablename__ = "certificate_basis"

    certificate_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"), primary_key=True)
    based_on_id: Mapped[str] = mapped_column(ForeignKey("certificates.id"), primary_key=True, index=True)

    # Declared so that a flush always inserts the certificate before its basis rows (see IdempotencyKey).
    certificate: Mapped[Certificate] = relationship(foreign_keys=[certificate_id])
    based_on: Mapped[Certificate] = relationship(foreign_keys=[based_on_id])


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

    # Declared so that a flush always inserts the certificate first: without a relationship the unit
    # of work has no order between the two tables, and a batch item flushes them together.
    certificate: Mapped[Certificate] = relationship()


# --- Procurement: subscriptions, the outbox and its deliveries ---


class Subscription(Base):
    """A procurement client's wish to hear about certificates matching ``filter``."""

    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    client_id: Mapped[str] = mapped_column(String(64), index=True)  # the OAuth client that owns it
    callback_url: Mapped[str] = mapped_column(Text)
    filter: Mapped[dict] = mapped_column(JSON, default=dict)
    # The Standard Webhooks signing secret; needed in clear to sign, so encrypted, not hashed.
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxEvent(Base):
    """A certificate event, written in the transaction of the change; the worker fans it out."""

    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    type: Mapped[str] = mapped_column(String(100))
    certificate_id: Mapped[str] = mapped_column(String(36), index=True)
    # Set for events that may happen once per certificate (expiry); the unique index makes
    # two workers noticing the same expiry write one event.
    once_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Delivery(Base):
    """One event for one receiver (a subscription's webhook or a PACT requester), with its retries."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)  # webhook-id
    kind: Mapped[str] = mapped_column(String(20))  # webhook | pact
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    event: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- Operations: settings the registry keeps about itself --------------------------------------


class RegistrySetting(Base):
    """A named value the registry keeps about itself, such as the key-encryption key's check value."""

    __tablename__ = "registry_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- Background jobs (label exports) ---------------------------------------------------------


class Job(Base):
    """Work a request hands to the worker: its progress, then where its result file is."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_created_at", "state", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(40))  # label-export
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)  # who may read it
    state: Mapped[str] = mapped_column(String(20), default="queued")  # queued|running|done|failed|expired
    params: Mapped[dict] = mapped_column(JSON)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict | None] = mapped_column(JSON)  # file name, media type, size, warnings or error
    file_name: Mapped[str | None] = mapped_column(String(200))  # under <instance>/exports/
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# --- scale: versions of what verification caches depend on


class RegistryVersion(Base):
    """Counters bumped in the transaction of every change they stand for (``registry.versions``):
    ``trust`` by bodies, keys, accreditations and interruptions; ``status`` by a new status list or a
    flipped bit. Verification caches key on them and reads them by primary key only."""

    __tablename__ = "registry_versions"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)



# --- transparency log ---------------------------------------------------------------------------


class TlogState(Base):
    """One row: the log's size. Appends update it first, which serialises them on PostgreSQL."""

    __tablename__ = "tlog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)


#: The indexed expression of a log entry's leaf hash; a query must spell it the same way.
LEAF_PREFIX = "substr(leaf_hash, 1, 8)"


class TlogEntry(Base):
    __tablename__ = "tlog_entries"
    # A proof asked for by leaf hash seeks on the hash's first 8 bytes (a quarter of the full
    # hash's index, and as selective) instead of reading every entry.
    __table_args__ = (Index("ix_tlog_entries_leaf_prefix", text(LEAF_PREFIX)),)

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    entry: Mapped[bytes] = mapped_column(LargeBinary)  # RFC 8785 JSON of the event
    # What happened, when and to which certificate is inside ``entry``; a certificate's issuance
    # entry is found from the certificate (``Certificate.log_index``).


class TlogTile(Base):
    """A full tile: the 256 hashes at level 8×level, then its inner levels up to its root (511 in all)."""

    __tablename__ = "tlog_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)
    root: Mapped[bytes] = mapped_column(LargeBinary)


class TlogCheckpoint(Base):
    __tablename__ = "tlog_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class TlogEdge(Base):
    """The partial tile of every level of the tree of ``size`` entries, with their inner levels:
    stored with the checkpoint of that size, so a new process's proofs against it hash nothing
    and read one row instead of up to 255 per level. Only the latest is kept."""

    __tablename__ = "tlog_edges"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)



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
