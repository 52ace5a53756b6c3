"""Standalone verifier of carbon label certificates (W3C VC 2.0 secured as VC-JOSE-COSE).

Imports only the standard library, ``pyjwt`` and ``cryptography`` (reading a QR code from an
image additionally needs the ``image`` extra: ``zxing-cpp`` and Pillow).

    >>> from verifier import HttpResolver, verify_credential
    >>> result = verify_credential(token_or_scanned_qr_text, HttpResolver("https://labels.example.org"))
    >>> result.verified, result.codes

See ``docs/verifier.md``.
"""

from .credential import (
    CHECK_NAMES,
    KIND_TYPES,
    VC_CONTEXT,
    Check,
    Error,
    SignatureCache,
    VerificationResult,
    alg_for_key,
    build_credential,
    context_url,
    format_time,
    jws_header,
    key_from_jwk,
    parse_time,
    parse_verification_link,
    public_jwk,
    status_entry,
    verify_credential,
)
from .errors import (
    ERROR_CODES,
    Expired,
    GradeMismatch,
    InputError,
    MalformedCredential,
    NotAccredited,
    NotYetValid,
    OutOfScope,
    Revoked,
    SignatureInvalid,
    StatusUnavailable,
    Suspended,
    TrustListUnavailable,
    UnknownIssuer,
    UnknownKey,
    UnsupportedKey,
    VerifierError,
)
from .keys import (
    HttpResolver,
    OfflineResolver,
    Resolver,
    StaticResolver,
    StatusListSnapshot,
    save_for_offline,
    snapshot_from_jws,
)
from .statuslist import (
    LIST_SIZE,
    build_status_list_credential,
    decode_list,
    encode_list,
    get_bit,
    set_bit,
)
from .trust import (
    TrustList,
    verify_registry_jws,
    verify_status_list_credential,
    verify_trust_list,
)

__all__ = [
    # verification
    "verify_credential",
    "VerificationResult",
    "Check",
    "Error",
    "CHECK_NAMES",
    "SignatureCache",
    "parse_verification_link",
    # the credential format
    "KIND_TYPES",
    "VC_CONTEXT",
    "context_url",
    "format_time",
    "parse_time",
    "build_credential",
    "status_entry",
    "jws_header",
    "alg_for_key",
    "public_jwk",
    "key_from_jwk",
    # status lists
    "LIST_SIZE",
    "encode_list",
    "decode_list",
    "get_bit",
    "set_bit",
    "build_status_list_credential",
    # trust
    "TrustList",
    "verify_trust_list",
    "verify_status_list_credential",
    "verify_registry_jws",
    # resolvers
    "Resolver",
    "StatusListSnapshot",
    "StaticResolver",
    "HttpResolver",
    "OfflineResolver",
    "save_for_offline",
    "snapshot_from_jws",
    # errors
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
