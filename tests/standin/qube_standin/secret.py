"""Password "hash" of the STAND-IN (qbhash, qblogin, proxy_password). NOT Qube!'s scheme.

Qube! documents qbhash output as an encrypted string the worker can turn back into the
password. The stand-in imitates that property with a deliberately simple scheme that is
only fit for test equipment:

* key: SHA-256 of a constant built into the stand-in (anyone holding the stand-in can decrypt);
* plaintext: one length byte + the UTF-8 password, zero-padded to a multiple of 16 bytes;
* salt: 8 random bytes per call, so two calls give different output;
* keystream: SHA-256(key || salt || counter) blocks XORed with the plaintext;
* tag: first 8 bytes of HMAC-SHA256(key, salt || ciphertext).

Output: lowercase hex of salt || tag || ciphertext, i.e. at least 64 hex characters.
"""

from __future__ import annotations

import hashlib
import hmac
import os

_KEY = hashlib.sha256(b"qube-standin test equipment - not a secret key").digest()


class SecretError(ValueError):
    """The string is not a valid stand-in encrypted password."""


def _keystream(salt: bytes, length: int) -> bytes:
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hashlib.sha256(_KEY + salt + counter.to_bytes(4, "big")).digest())
    return b"".join(blocks)[:length]


def encrypt(password: str) -> str:
    """Return the salted, reversible hex string for ``password`` (max 255 UTF-8 bytes)."""
    data = password.encode("utf-8")
    if len(data) > 255:
        raise SecretError("password longer than 255 bytes")
    plain = bytes([len(data)]) + data
    plain += b"\0" * (-len(plain) % 16)
    salt = os.urandom(8)
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(salt, len(plain))))
    tag = hmac.new(_KEY, salt + cipher, hashlib.sha256).digest()[:8]
    return (salt + tag + cipher).hex()


def decrypt(token: str) -> str:
    """Return the password inside ``token`` (raises SecretError when it is not valid)."""
    try:
        raw = bytes.fromhex(token.strip())
    except ValueError:
        raise SecretError("not a hex string") from None
    if len(raw) < 32 or (len(raw) - 16) % 16:
        raise SecretError("wrong length")
    salt, tag, cipher = raw[:8], raw[8:16], raw[16:]
    if not hmac.compare_digest(tag, hmac.new(_KEY, salt + cipher, hashlib.sha256).digest()[:8]):
        raise SecretError("integrity check failed")
    plain = bytes(a ^ b for a, b in zip(cipher, _keystream(salt, len(cipher))))
    if plain[0] > len(plain) - 1:
        raise SecretError("corrupt length")
    return plain[1:1 + plain[0]].decode("utf-8")


def same_password(token_a: str, token_b: str) -> bool:
    """True when both tokens decrypt to the same password (constant-time compare)."""
    return hmac.compare_digest(decrypt(token_a).encode(), decrypt(token_b).encode())
