"""Account rules for the people who use the portal, behind named exceptions.

Passwords are hashed with Argon2id; every sign-in needs a TOTP code (RFC 6238, ±1 step, each
step accepted once) or an unused recovery code. Failures are counted per account and per
address in the database (so every worker sees them); too many lock sign-in for a while, and
the answer is the same whether or not the email exists.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..errors import Conflict, InvalidInput, NotFound
from ..models import Invitation, LoginFailure, RecoveryCode, User, utcnow
from ..services import audit

ROLES = ("operator", "body-admin", "certifier")
BODY_ROLES = ("body-admin", "certifier")
ACCOUNT_LIMIT = 5  # failures per account within WINDOW
ADDRESS_LIMIT = 20  # failures per address within WINDOW
WINDOW = timedelta(minutes=15)
INVITE_TTL = timedelta(days=3)
RECOVERY_CODES = 8
MIN_PASSWORD = 12

_hashers: dict[tuple, tuple[PasswordHasher, str]] = {}


def _hasher() -> PasswordHasher:
    return _hasher_and_dummy()[0]


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    """Argon2id with the configured cost (RFC 9106's low-memory profile unless set), and a hash
    verified when the email is unknown, so timing does not tell which accounts exist."""
    from flask import current_app, has_app_context

    cfg = current_app.config if has_app_context() else {}
    params = (int(cfg.get("ARGON2_TIME_COST", 3)), int(cfg.get("ARGON2_MEMORY_COST", 65536)),
              int(cfg.get("ARGON2_PARALLELISM", 4)))
    found = _hashers.get(params)
    if found is None:
        hasher = PasswordHasher(time_cost=params[0], memory_cost=params[1], parallelism=params[2])
        found = _hashers[params] = (hasher, hasher.hash("no such account, constant work"))
    return found


class AccountError(Exception):
    """Base of the account refusals; ``field`` is the form field the message belongs to."""

    field = "email"


class InvalidCredentials(AccountError):
    """Wrong email, password or code (which one is never said)."""


class TooManyFailures(AccountError):
    """Sign-in is locked for this account or address for a while."""


class InvalidPassword(AccountError):
    field = "password"


class InvalidCode(AccountError):
    field = "code"


class InvitationInvalid(AccountError):
    """Unknown, used or expired invitation link."""


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise InvalidPassword("short")


def _fernet(master_key: str) -> Fernet:
    return Fernet(master_key.encode())


def totp_secret(user: User, master_key: str) -> str:
    return _fernet(master_key).decrypt(user.totp_secret_encrypted).decode()


def encrypt_secret(secret: str, master_key: str) -> bytes:
    return _fernet(master_key).encrypt(secret.encode())


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def create_user(session: Session, *, email: str, role: str, body_id: str | None, master_key: str,
                actor: str, password: str | None = None, totp: str | None = None,
                lang: str | None = None) -> tuple[User, str, str]:
    """A new enrolled account; returns (user, password, TOTP secret). Generates what is not given."""
    email = normalise_email(email)
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", errors={"role": ["Unknown role."]})
    if role in BODY_ROLES and not body_id:
        raise InvalidInput("A body administrator or certifier belongs to a body", errors={"body": ["Required."]})
    if role == "operator":
        body_id = None
    if not email or "@" not in email or len(email) > 110:
        raise InvalidInput("Not an email address", errors={"email": ["Not an email address."]})
    if session.scalars(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict("An account with this email exists", type="account-exists",
                       extra={"errors": {"email": ["An account with this email exists."]}})
    password = password or generate_password()
    totp = totp or pyotp.random_base32()
    user = User(email=email, password_hash=hash_password(password), totp_secret_encrypted=encrypt_secret(totp, master_key),
                totp_last_step=0, role=role, body_id=body_id, lang=lang, password_epoch=1)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.created", target_type="user", target_id=str(user.id),
                 details={"email": email, "role": role, "body": body_id})
    return user, password, totp


# --------------------------------------------------------------------------- throttling

def _scopes(email: str, address: str | None) -> list[tuple[str, int]]:
    scopes = [(f"email:{normalise_email(email)}"[:140], ACCOUNT_LIMIT)]
    if address:
        scopes.append((f"ip:{address}"[:140], ADDRESS_LIMIT))
    return scopes


def locked(session: Session, email: str, address: str | None, now: datetime | None = None) -> bool:
    since = (now or utcnow()) - WINDOW
    for scope, limit in _scopes(email, address):
        count = session.scalar(select(func.count(LoginFailure.id)).where(LoginFailure.scope == scope,
                                                                         LoginFailure.at > since))
        if count >= limit:
            return True
    return False


def _fail(session: Session, email: str, address: str | None) -> None:
    for scope, _ in _scopes(email, address):
        session.add(LoginFailure(scope=scope))
    session.flush()


# --------------------------------------------------------------------------- sign-in

def _match_totp(secret: str, code: str, after_step: int, now: float | None = None) -> int | None:
    """The time step ``code`` belongs to (current ±1) if it is newer than ``after_step``."""
    now = time.time() if now is None else now
    totp = pyotp.TOTP(secret)
    current = int(now // totp.interval)
    found = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and step > after_step:
            found = step
    return found


def _recovery_hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{code.replace('-', '').strip().lower()}".encode()).hexdigest()


def authenticate(session: Session, *, email: str, password: str, code: str, address: str | None,
                 master_key: str) -> User:
    """The account for these credentials, or InvalidCredentials / TooManyFailures.

    The caller commits in both cases: a failure is recorded before the exception leaves.
    """
    email = normalise_email(email)
    if locked(session, email, address):
        raise TooManyFailures()
    user = session.scalars(select(User).where(User.email == email)).first() if email else None
    hasher, dummy = _hasher_and_dummy()
    try:
        hasher.verify(user.password_hash if user else dummy, password or "")
        ok = user is not None and user.disabled_at is None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    if ok:
        ok = _second_factor(session, user, (code or "").strip().replace(" ", ""), master_key)
    if not ok:
        _fail(session, email, address)
        raise InvalidCredentials()
    session.execute(delete(LoginFailure).where(LoginFailure.scope == _scopes(email, None)[0][0]))
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(session, actor=actor(user), action="user.signed-in", target_type="user", target_id=str(user.id))
    return user


def _second_factor(session: Session, user: User, code: str, master_key: str) -> bool:
    if code.isdigit() and len(code) == 6:
        step = _match_totp(totp_secret(user, master_key), code, user.totp_last_step)
        if step is None:
            return False
        user.totp_last_step = step
        return True
    wanted = _recovery_hash(user.id, code)
    for row in user.recovery_codes:
        if row.used_at is None and hmac.compare_digest(row.code_hash, wanted):
            row.used_at = utcnow()
            audit.record(session, actor=actor(user), action="user.recovery-code-used", target_type="user",
                         target_id=str(user.id))
            return True
    return False


def verify_new_totp(secret: str, code: str) -> int | None:
    """The time step of a correct code for a secret being enrolled, else None."""
    return _match_totp(secret, (code or "").strip().replace(" ", ""), 0)


def actor(user: User) -> str:
    return f"user:{user.email}"[:120]


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher().verify(user.password_hash, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def change_password(session: Session, user: User, current: str, new: str) -> None:
    if not check_password(user, current):
        raise InvalidPassword("wrong")
    check_password_rules(new)
    user.password_hash = hash_password(new)
    user.password_epoch += 1
    audit.record(session, actor=actor(user), action="user.password-changed", target_type="user", target_id=str(user.id))
    session.flush()


def regenerate_recovery_codes(session: Session, user: User, password: str) -> list[str]:
    """New recovery codes (the old ones stop working); they are shown once and stored hashed."""
    if not check_password(user, password):
        raise InvalidPassword("wrong")
    for row in user.recovery_codes:
        row.used_at = row.used_at or utcnow()
    codes = [f"{secrets.token_hex(5)}-{secrets.token_hex(5)}" for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(user.id, code)))
    audit.record(session, actor=actor(user), action="user.recovery-codes-generated", target_type="user",
                 target_id=str(user.id))
    session.flush()
    session.refresh(user)
    return codes


def set_disabled(session: Session, user: User, disabled: bool, *, by: str) -> None:
    user.disabled_at = utcnow() if disabled else None
    user.password_epoch += 1  # ends every session of the account
    audit.record(session, actor=by, action="user.disabled" if disabled else "user.enabled", target_type="user",
                 target_id=str(user.id), details={"email": user.email})
    session.flush()


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such account")
    return user


# --------------------------------------------------------------------------- invitations

def invite(session: Session, *, email: str, role: str, body_id: str | None, by: str,
           now: datetime | None = None) -> tuple[Invitation, str]:
    email = normalise_email(email)
    if role not in ROLES:
        raise InvalidInput("Unknown role", errors={"role": ["Unknown role."]})
    if not email or "@" not in email or len(email) > 110:
        raise InvalidInput("Not an email address", errors={"email": ["Not an email address."]})
    if session.scalars(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict("An account with this email exists", type="account-exists",
                       extra={"errors": {"email": ["An account with this email exists."]}})
    token = secrets.token_urlsafe(32)
    now = now or utcnow()
    row = Invitation(token_hash=hashlib.sha256(token.encode()).hexdigest(), email=email, role=role,
                     body_id=body_id if role != "operator" else None, created_by=by, created_at=now,
                     expires_at=now + INVITE_TTL)
    session.add(row)
    session.flush()
    audit.record(session, actor=by, action="user.invited", target_type="invitation", target_id=str(row.id),
                 details={"email": email, "role": role, "body": body_id})
    return row, token


def find_invitation(session: Session, token: str, now: datetime | None = None) -> Invitation:
    digest = hashlib.sha256((token or "").encode()).hexdigest()
    row = session.scalars(select(Invitation).where(Invitation.token_hash == digest)).first()
    if row is None or row.used_at is not None or row.expires_at <= (now or utcnow()):
        raise InvitationInvalid()
    return row


def accept_invitation(session: Session, invitation: Invitation, *, password: str, secret: str, code: str,
                      master_key: str, lang: str | None) -> User:
    check_password_rules(password)
    step = verify_new_totp(secret, code)
    if step is None:
        raise InvalidCode()
    user, _, _ = create_user(session, email=invitation.email, role=invitation.role, body_id=invitation.body_id,
                             master_key=master_key, actor=invitation.created_by, password=password, totp=secret,
                             lang=lang)
    user.totp_last_step = step  # the confirming code cannot sign in again
    invitation.used_at = utcnow()
    session.flush()
    return user
