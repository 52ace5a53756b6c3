"""Standalone verifier of carbon label certificates (W3C VC 2.0 secured as VC-JOSE-COSE).

Imports only the standard library, ``pyjwt`` and ``cryptography`` (reading a QR code from an
image additionally needs the ``image`` extra: ``zxing-cpp`` and Pillow).

    >>> from verifier import HttpResolver, verify_credential
    >>> result = verify_credential(token_or_scanned_qr_text, HttpResolver("https://labels.example.org"))
    >>> result.verified, result.codes

The public API is what ``__all__`` lists: the names below, re-exported lazily (PEP 562), and two
public submodules, :mod:`verifier.grading` (grading schemes) and :mod:`verifier.offline` (the
offline QR payload codec), which use the standard library only, so that importing them does not
load pyjwt and cryptography. Every other module is private (``_``-prefixed); imports among them
run one way: ``_errors`` → ``_base`` → ``_jose``, ``_statuslist`` → ``_trust`` → ``_input`` →
``_resolvers`` → ``_credential`` → ``_batch`` → ``_cli``. See ``docs/verifier.md``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    # verifier._errors
    "ERROR_CODES": "_errors",
    "Expired": "_errors",
    "GradeMismatch": "_errors",
    "InputError": "_errors",
    "MalformedCredential": "_errors",
    "NotAccredited": "_errors",
    "NotYetValid": "_errors",
    "OutOfScope": "_errors",
    "Revoked": "_errors",
    "SignatureInvalid": "_errors",
    "StatusUnavailable": "_errors",
    "Suspended": "_errors",
    "TrustListUnavailable": "_errors",
    "UnknownIssuer": "_errors",
    "UnknownKey": "_errors",
    "UnsupportedKey": "_errors",
    "VerifierError": "_errors",
    # verifier._base
    "KIND_TYPES": "_base",
    "VC_CONTEXT": "_base",
    "context_url": "_base",
    "format_time": "_base",
    "parse_time": "_base",
    # verifier._jose
    "SignatureCache": "_jose",
    "alg_for_key": "_jose",
    "jws_header": "_jose",
    "key_from_jwk": "_jose",
    "public_jwk": "_jose",
    # verifier._statuslist
    "LIST_SIZE": "_statuslist",
    "build_status_list_credential": "_statuslist",
    "decode_list": "_statuslist",
    "encode_list": "_statuslist",
    "get_bit": "_statuslist",
    "new_list": "_statuslist",
    "set_bit": "_statuslist",
    # verifier._trust
    "DID_CONTEXTS": "_trust",
    "TrustList": "_trust",
    "accreditation_entry": "_trust",
    "body_did": "_trust",
    "build_did_document": "_trust",
    "build_trust_list": "_trust",
    "did_web": "_trust",
    "interruption_entry": "_trust",
    "jwks_entry": "_trust",
    "registry_did": "_trust",
    "trust_list_body": "_trust",
    "trust_list_key": "_trust",
    "verify_registry_jws": "_trust",
    "verify_status_list_credential": "_trust",
    "verify_trust_list": "_trust",
    # verifier._input
    "parse_verification_link": "_input",
    # verifier._resolvers
    "HttpResolver": "_resolvers",
    "OfflineResolver": "_resolvers",
    "Resolver": "_resolvers",
    "StaticResolver": "_resolvers",
    "StatusListSnapshot": "_resolvers",
    "did_web_url": "_resolvers",
    "save_for_offline": "_resolvers",
    "snapshot_from_jws": "_resolvers",
    # verifier._credential
    "CHECK_NAMES": "_credential",
    "Check": "_credential",
    "Error": "_credential",
    "VerificationResult": "_credential",
    "build_credential": "_credential",
    "status_entry": "_credential",
    "verify_credential": "_credential",
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

#: Public submodules (standard library only): the grading schemes and the offline QR payload codec.
_PUBLIC_MODULES = ("grading", "offline")

__all__ = [
    # public submodules (standard library only)
    "grading",
    "offline",
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
    "new_list",
    "build_status_list_credential",
    # trust
    "TrustList",
    "did_web",
    "DID_CONTEXTS",
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
    "did_web_url",
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
    if name in _PUBLIC_MODULES:
        return importlib.import_module(f".{name}", __name__)
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from ._errors import (
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
    from ._base import (
        KIND_TYPES,
        VC_CONTEXT,
        context_url,
        format_time,
        parse_time,
    )
    from ._jose import (
        SignatureCache,
        alg_for_key,
        jws_header,
        key_from_jwk,
        public_jwk,
    )
    from ._statuslist import (
        LIST_SIZE,
        build_status_list_credential,
        decode_list,
        encode_list,
        get_bit,
        new_list,
        set_bit,
    )
    from ._trust import (
        DID_CONTEXTS,
        TrustList,
        accreditation_entry,
        body_did,
        build_did_document,
        build_trust_list,
        did_web,
        interruption_entry,
        jwks_entry,
        registry_did,
        trust_list_body,
        trust_list_key,
        verify_registry_jws,
        verify_status_list_credential,
        verify_trust_list,
    )
    from ._input import (
        parse_verification_link,
    )
    from ._resolvers import (
        HttpResolver,
        OfflineResolver,
        Resolver,
        StaticResolver,
        StatusListSnapshot,
        did_web_url,
        save_for_offline,
        snapshot_from_jws,
    )
    from ._credential import (
        CHECK_NAMES,
        Check,
        Error,
        VerificationResult,
        build_credential,
        status_entry,
        verify_credential,
    )
