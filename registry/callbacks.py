"""Calling out to receivers' URLs: the SSRF guard, address pinning, and Standard Webhooks signatures.

A callback URL must be ``https`` and every address its host resolves to must be public. The check
runs when a URL is accepted and again before each delivery (DNS can change in between), and the
connection goes to the very address that was checked, so a second lookup cannot swap it.
``ALLOW_PRIVATE_CALLBACKS`` (development and tests only) lifts both rules.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from cryptography.fernet import Fernet

USER_AGENT = "carbon-label-registry-webhooks/1"


class CallbackRefused(ValueError):
    """A callback URL the registry will not call (scheme, host or address)."""


def _fernet(config) -> Fernet:
    return Fernet(config["MASTER_KEY"].encode())


def encrypt(config, secret: str) -> bytes:
    """Encrypt a secret the registry must later send or sign with, under the key-encryption key."""
    return _fernet(config).encrypt(secret.encode())


def decrypt(config, token: bytes) -> str:
    return _fernet(config).decrypt(token).decode()


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local
                                 or ip.is_private or ip.is_unspecified)


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    address: str  # the checked address the connection goes to


def check_callback_url(url: str, config) -> Target:
    """Resolve ``url`` and refuse it unless it is https on public addresses only.

    Raises ``CallbackRefused`` with the reason.
    """
    allow = bool(config.get("ALLOW_PRIVATE_CALLBACKS"))
    if not isinstance(url, str) or len(url) > 2000:
        raise CallbackRefused("not a URL")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise CallbackRefused("the URL must be absolute, https://…")
    if parts.scheme != "https" and not allow:
        raise CallbackRefused("callback URLs must use https")
    if parts.username or parts.password:
        raise CallbackRefused("credentials in the URL are not accepted")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as err:
        raise CallbackRefused("the port is not valid") from err
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        raise CallbackRefused(f"the host {parts.hostname!r} does not resolve") from err
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise CallbackRefused(f"the host {parts.hostname!r} does not resolve")
    if not allow:
        bad = [a for a in addresses if not _public(a)]
        if bad:
            raise CallbackRefused(f"the host {parts.hostname!r} resolves to a non-public address ({bad[0]})")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, context: ssl.SSLContext, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


@dataclass
class Answer:
    status: int
    body: bytes


def post(url: str, body: bytes, headers: dict[str, str], config) -> Answer:
    """POST ``body`` to ``url`` after the SSRF check, on the address checked; redirects are not followed.

    Raises ``CallbackRefused`` for a refused URL and ``OSError`` (including ``ssl.SSLError`` and
    timeouts) when the receiver cannot be reached.
    """
    target = check_callback_url(url, config)
    timeout = float(config.get("CALLBACK_TIMEOUT", 10))
    if target.scheme == "https":
        context = ssl.create_default_context(cafile=config.get("CALLBACK_CA_FILE") or None)
        conn: http.client.HTTPConnection = _PinnedHTTPS(target, context, timeout)
    else:
        conn = _PinnedHTTP(target, timeout)
    try:
        conn.request("POST", target.path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        resp = conn.getresponse()
        return Answer(resp.status, resp.read(65536))
    except http.client.HTTPException as err:
        raise OSError(f"bad HTTP answer: {err}") from err
    finally:
        conn.close()


def client_credentials_token(token_url: str, client_id: str, secret: str, config) -> str:
    """An access token from a requester's OAuth token endpoint (client credentials, HTTP Basic).

    Raises ``CallbackRefused``, ``OSError``, or ``ValueError`` when no token comes back.
    """
    from urllib.parse import quote

    basic = base64.b64encode(f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
    answer = post(token_url, urlencode({"grant_type": "client_credentials"}).encode(),
                  {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}, config)
    if answer.status != 200:
        raise ValueError(f"the token endpoint answered {answer.status}")
    try:
        token = json.loads(answer.body)["access_token"]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError("the token endpoint's answer has no access_token") from err
    if not isinstance(token, str) or not token:
        raise ValueError("the token endpoint's answer has no access_token")
    return token


def new_webhook_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
