"""The server side of Cognito's SRP-6a sign-in (USER_SRP_AUTH), written from the protocol.

Cognito's variant, which every client library (amazon-cognito-identity-js, Amplify, pycognito) speaks:
- the 3072-bit MODP group of RFC 3526 (also RFC 5054's 3072-bit prime) with generator g = 2, SHA-256;
- numbers are hashed in a minimal *signed* big-endian form: the hex digits, a leading 0 for an odd count,
  and a leading 00 byte when the top bit is set (so a value is never read back as negative);
- k = H(N | g), u = H(A | B), x = H(salt | H(poolName + userIdForSrp + ":" + password)), v = g^x;
- the session key is HKDF-SHA256 (RFC 5869) of S with salt u and info "Caldera Derived Key", 16 bytes;
- the client proves it with PASSWORD_CLAIM_SIGNATURE = base64(HMAC-SHA256(key, poolName + userIdForSrp +
  SECRET_BLOCK bytes + TIMESTAMP)), where TIMESTAMP reads like "Tue Dec 3 18:41:10 UTC 2026".

The IdP stores (salt, v) for each password it sets; the password itself never reaches the server in this flow.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

N = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
    16,
)
G = 2
HKDF_INFO = b"Caldera Derived Key"
KEY_BYTES = 16
SALT_BYTES = 16
# 256 random bits for the server's secret exponent: twice the group's ~128-bit security level, and a
# tenth of the cost of a full-width exponent per sign-in.
EPHEMERAL_BITS = 256

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
TIMESTAMP_RE = re.compile(
    r"^(?P<wd>[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) (?P<day>[1-9]|[12]\d|3[01]) "
    r"(?P<h>[01]\d|2[0-3]):(?P<m>[0-5]\d):(?P<s>[0-5]\d) UTC (?P<y>\d{4})$"
)


class SrpError(ValueError):
    """The client's SRP values are unusable (A = 0 mod N, a malformed timestamp or signature)."""


def signed_bytes(value: int) -> bytes:
    """The big-endian form Cognito hashes: minimal, plus a 00 byte when the top bit would read as a sign."""
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return b"\x00" + raw if raw[0] & 0x80 else raw


def _hash_int(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha256(b"".join(parts)).digest(), "big")


K = _hash_int(signed_bytes(N), signed_bytes(G))


def private_key(pool_name: str, user_id: str, password: str, salt: int) -> int:
    """x: the exponent a password stands for (Cognito hashes pool name, user id and password together)."""
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).digest()
    return _hash_int(signed_bytes(salt), inner)


@dataclass(frozen=True)
class Verifier:
    salt: str  # hex
    verifier: str  # hex of v = g^x mod N


def make_verifier(pool_name: str, user_id: str, password: str) -> Verifier:
    salt = int.from_bytes(secrets.token_bytes(SALT_BYTES), "big") | (1 << (SALT_BYTES * 8 - 1))
    x = private_key(pool_name, user_id, password, salt)
    return Verifier(format(salt, "x"), format(pow(G, x, N), "x"))


@dataclass(frozen=True)
class ServerEphemeral:
    secret: int  # b
    public: int  # B = k*v + g^b mod N


def server_ephemeral(verifier: int) -> ServerEphemeral:
    while True:
        b = secrets.randbits(EPHEMERAL_BITS)
        public = (K * verifier + pow(G, b, N)) % N
        if b and public:
            return ServerEphemeral(b, public)


def session_key(client_public: int, ephemeral: ServerEphemeral, verifier: int) -> bytes:
    """The 16-byte key both sides derive: HKDF(S, salt=u) with S = (A * v^u)^b mod N."""
    if client_public % N == 0:
        raise SrpError("SRP_A is invalid")
    u = _hash_int(signed_bytes(client_public), signed_bytes(ephemeral.public))
    if u == 0:
        raise SrpError("SRP_A is invalid")
    shared = pow(client_public * pow(verifier, u, N), ephemeral.secret, N)
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=signed_bytes(u), info=HKDF_INFO)
    return hkdf.derive(signed_bytes(shared))


def claim_signature(key: bytes, pool_name: str, user_id: str, secret_block: str, timestamp: str) -> str:
    try:
        block = base64.b64decode(secret_block, validate=True)
    except ValueError as exc:
        raise SrpError("PASSWORD_CLAIM_SECRET_BLOCK is not base64") from exc
    message = pool_name.encode() + user_id.encode() + block + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def signature_matches(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


def parse_timestamp(text: object) -> datetime:
    """Cognito's TIMESTAMP ("EEE MMM d HH:mm:ss z yyyy" in English, UTC, day without a leading zero)."""
    match = TIMESTAMP_RE.match(text) if isinstance(text, str) else None
    if match is None or match["wd"] not in _WEEKDAYS or match["mon"] not in _MONTHS:
        raise SrpError("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")
    try:
        when = datetime(
            int(match["y"]),
            _MONTHS.index(match["mon"]) + 1,
            int(match["day"]),
            int(match["h"]),
            int(match["m"]),
            int(match["s"]),
            tzinfo=UTC,
        )
    except ValueError as exc:  # e.g. Feb 30
        raise SrpError("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.") from exc
    if _WEEKDAYS[when.weekday()] != match["wd"]:
        raise SrpError("TIMESTAMP format should be EEE MMM d HH:mm:ss z yyyy in english.")
    return when


def format_timestamp(when: datetime) -> str:
    when = when.astimezone(UTC)
    return f"{_WEEKDAYS[when.weekday()]} {_MONTHS[when.month - 1]} {when.day} {when:%H:%M:%S} UTC {when.year}"
