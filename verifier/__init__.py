"""Standalone verifier of carbon label certificates (W3C VC 2.0 secured as VC-JOSE-COSE).

Imports only the standard library, ``pyjwt`` and ``cryptography`` (reading a QR code from an
image additionally needs the ``image`` extra: ``zxing-cpp`` and Pillow).

    >>> from verifier import HttpResolver, verify_credential
    >>> result = verify_credential(token_or_scanned_qr_text, HttpResolver("https://labels.example.org"))
    >>> result.verified, result.codes

The public names below are re-exported lazily (PEP 562), so that ``import verifier.offline`` or
``import verifier.grading`` (standard library only) does not load pyjwt and cryptography.
See ``docs/verifier.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # verifier.credential
    "CHECK_NAMES": "credential",
    "KIND_TYPES": "credential",
    "VC_CONTEXT": "credential",
    "Check": "credential",
    "Error": "credential",
    "SignatureCache": "credential",
    "VerificationResult": "credential",
    "alg_for_key": "credential",
    "build_credential": "credential",
    "context_url": "credential",
    "format_time": "credential",
    "jws_header": "credential",
    "key_from_jwk": "credential",
    "parse_time": "credential",
    "parse_verification_link": "credential",
    "public_jwk": "credential",
    "status_entry": "credential",
    "verify_credential": "credential",
    # verifier.errors
    "ERROR_CODES": "errors",
    "Expired": "errors",
    "GradeMismatch": "errors",
    "InputError": "errors",
    "MalformedCredential": "errors",
    "NotAccredited": "errors",
    "NotYetValid": "errors",
    "OutOfScope": "errors",
    "Revoked": "errors",
    "SignatureInvalid": "errors",
    "StatusUnavailable": "errors",
    "Suspended": "errors",
    "TrustListUnavailable": "errors",
    "UnknownIssuer": "errors",
    "UnknownKey": "errors",
    "UnsupportedKey": "errors",
    "VerifierError": "errors",
    # verifier.keys
    "HttpResolver": "keys",
    "OfflineResolver": "keys",
    "Resolver": "keys",
    "StaticResolver": "keys",
    "StatusListSnapshot": "keys",
    "save_for_offline": "keys",
    "snapshot_from_jws": "keys",
    # verifier.statuslist
    "LIST_SIZE": "statuslist",
    "build_status_list_credential": "statuslist",
    "decode_list": "statuslist",
    "encode_list": "statuslist",
    "get_bit": "statuslist",
    "set_bit": "statuslist",
    # verifier.trust
    "TrustList": "trust",
    "accreditation_entry": "trust",
    "body_did": "trust",
    "build_did_document": "trust",
    "build_trust_list": "trust",
    "interruption_entry": "trust",
    "jwks_entry": "trust",
    "registry_did": "trust",
    "trust_list_body": "trust",
    "trust_list_key": "trust",
    "verify_registry_jws": "trust",
    "verify_status_list_credential": "trust",
    "verify_trust_list": "trust",
    # verifier._tlog (the transparency log)
    "LogProofInvalid": "_tlog",
    "NoteVerifier": "_tlog",
    "LogCheckpoint": "_tlog",
    "verify_checkpoint": "_tlog",
    "verify_inclusion": "_tlog",
    "verify_consistency": "_tlog",
    "verify_log_claim": "_tlog",
    "log_leaf_hash": "_tlog",
}

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
    "registry_did",
    "body_did",
    "jwks_entry",
    "trust_list_key",
    "accreditation_entry",
    "interruption_entry",
    "trust_list_body",
    "build_trust_list",
    "build_did_document",
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
    # transparency log
    "LogProofInvalid",
    "NoteVerifier",
    "LogCheckpoint",
    "verify_checkpoint",
    "verify_inclusion",
    "verify_consistency",
    "verify_log_claim",
    "log_leaf_hash",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its submodule on first use.

    Raises:
        AttributeError: *name* is not part of the public API.
    """
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
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
        accreditation_entry,
        body_did,
        build_did_document,
        build_trust_list,
        interruption_entry,
        jwks_entry,
        registry_did,
        trust_list_body,
        trust_list_key,
        verify_registry_jws,
        verify_status_list_credential,
        verify_trust_list,
    )
