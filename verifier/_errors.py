"""Error types of the verifier.

A *failed verification* is not an exception: :func:`verifier.verify_credential` returns a
:class:`~verifier.VerificationResult` whose ``errors`` carry the codes below. The
exceptions here are raised by the lower-level helpers (parsing a JWK, verifying a trust list or
a status list, fetching through a resolver) and are turned into result entries by
``verify_credential``.

Every class has a stable ``code``, one of the error codes of ``POST /api/v1/verify`` in the
external contract (``CONTRACT.md``). Codes are never renamed.
"""

from __future__ import annotations

__all__ = [
    "ERROR_CODES",
    "VerifierError",
    "MalformedCredential",
    "SignatureInvalid",
    "UnknownIssuer",
    "UnknownKey",
    "UnsupportedKey",
    "NotAccredited",
    "OutOfScope",
    "NotYetValid",
    "Expired",
    "Suspended",
    "Revoked",
    "GradeMismatch",
    "StatusUnavailable",
    "TrustListUnavailable",
    "InputError",
]

#: Every code ``verify_credential`` can report, in the order of the contract.
ERROR_CODES: tuple[str, ...] = (
    "MALFORMED",
    "SIGNATURE_INVALID",
    "UNKNOWN_ISSUER",
    "UNKNOWN_KEY",
    "ISSUER_NOT_ACCREDITED",
    "OUT_OF_SCOPE",
    "NOT_YET_VALID",
    "EXPIRED",
    "SUSPENDED",
    "REVOKED",
    "GRADE_MISMATCH",
    "STATUS_UNAVAILABLE",
)


class VerifierError(Exception):
    """Base of every verifier error. ``code`` is the contract error code, ``message`` the text."""

    code: str = "MALFORMED"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class MalformedCredential(VerifierError):
    """The input is not a well-formed credential (or not a credential at all)."""

    code = "MALFORMED"


class SignatureInvalid(VerifierError):
    """A signature does not verify with the pinned algorithm and the resolved key."""

    code = "SIGNATURE_INVALID"


class UnknownIssuer(VerifierError):
    """The issuer DID is not in the trust list."""

    code = "UNKNOWN_ISSUER"


class UnknownKey(VerifierError):
    """The ``kid`` is not a key of the issuer, or the key was not active when the credential was issued."""

    code = "UNKNOWN_KEY"


class UnsupportedKey(UnknownKey, ValueError):
    """A key or JWK of a type the verifier refuses (anything but Ed25519 and P-256 public keys)."""


class NotAccredited(VerifierError):
    """The issuing body was not accredited (suspended, withdrawn, no valid accreditation) at issuance."""

    code = "ISSUER_NOT_ACCREDITED"


class OutOfScope(VerifierError):
    """The certificate kind or product category lies outside the body's accreditation at issuance."""

    code = "OUT_OF_SCOPE"


class NotYetValid(VerifierError):
    """The credential's ``validFrom`` is in the future."""

    code = "NOT_YET_VALID"


class Expired(VerifierError):
    """The credential's ``validUntil`` has passed."""

    code = "EXPIRED"


class Suspended(VerifierError):
    """The credential's bit is set in its suspension status list."""

    code = "SUSPENDED"


class Revoked(VerifierError):
    """The credential's bit is set in its revocation status list."""

    code = "REVOKED"


class GradeMismatch(VerifierError):
    """The grade in the credential is not the one its grading scheme gives (or the scheme is unknown)."""

    code = "GRADE_MISMATCH"


class StatusUnavailable(VerifierError):
    """Status information could not be obtained or did not verify (never treated as a pass)."""

    code = "STATUS_UNAVAILABLE"


class TrustListUnavailable(StatusUnavailable):
    """The trust list (or the registry keys that sign it) could not be obtained, verified, or has expired.

    Reported with the code ``STATUS_UNAVAILABLE``: the contract has no separate code for it, and
    the message says that the trust list is the cause.
    """


class InputError(VerifierError):
    """The CLI input could not be read (missing file, undecodable image, extra not installed)."""

    code = "MALFORMED"
