"""Interoperability of PASETO v4.public tokens with a plain Ed25519 implementation: a token issued
by the shipped librealtime.so (through ctypes, as any C host would call it) is split, decoded and
its pre-authentication encoding rebuilt by hand exactly as docs/security.md and the PASETO spec
say, then verified with PyNaCl's VerifyKey and the public key rt_token_public_key exports; and a
token PyNaCl signs with the same seed verifies in the library.

Run by scripts/test.sh after the library is built: RT_LIB=dist/lib/librealtime.so."""
import base64
import ctypes
import datetime
import json
import struct

import nacl.exceptions
import nacl.signing
import pytest

from conftest import Bytes, take

RT_TOKEN_ACCESS, RT_TOKEN_REFRESH = 1, 2
RT_ECORRUPT, RT_ENOTFOUND, RT_EPERM = -6, -12, -13

def b64decode(text):
    """Strict unpadded base64url, as the spec requires."""
    assert b"=" not in text and b"+" not in text and b"/" not in text
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def b64encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def pae(*pieces):
    out = struct.pack("<Q", len(pieces))
    for piece in pieces:
        out += struct.pack("<Q", len(piece)) + piece
    return out


def utc(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


SEED = bytes(range(100, 132))


def test_a_library_token_verifies_with_pynacl(lib, core):
    assert lib.rt_token_key_add(core, b"svc-2026", SEED, 32) == 0
    pk = ctypes.create_string_buffer(32)
    assert lib.rt_token_public_key(core, b"svc-2026", pk) == 0
    assert pk.raw == bytes(nacl.signing.SigningKey(SEED).verify_key)

    out = Bytes()
    assert lib.rt_token_issue(core, b"user-7", b"laptop", b"chat:read", RT_TOKEN_ACCESS, 0, ctypes.byref(out)) == 0
    token = take(lib, out)
    header, body, footer_b64 = token[:10], *token[10:].split(b".")
    assert header == b"v4.public."
    payload, footer = b64decode(body), b64decode(footer_b64)
    assert footer == b'{"kid":"svc-2026"}'
    message, signature = payload[:-64], payload[-64:]
    # PyNaCl verifies the signature over PAE(h, m, f, i) with an empty implicit assertion.
    nacl.signing.VerifyKey(pk.raw).verify(pae(header, message, footer, b""), signature)
    with pytest.raises(nacl.exceptions.BadSignatureError):
        nacl.signing.VerifyKey(pk.raw).verify(pae(header, message, footer, b"x"), signature)

    claims = json.loads(message)
    assert claims["sub"] == "user-7" and claims["device"] == "laptop" and claims["scope"] == "chat:read"
    assert claims["typ"] == "access" and len(bytes.fromhex(claims["jti"])) == 16
    assert (utc(claims["exp"]) - utc(claims["iat"])).total_seconds() == 15 * 60
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((utc(claims["iat"]) - now).total_seconds()) < 60

    # The library hands back the same claims bytes.
    assert lib.rt_token_verify(core, token, len(token), RT_TOKEN_ACCESS, ctypes.byref(out)) == 0
    assert take(lib, out) == message


def test_a_pynacl_token_verifies_in_the_library(lib, core):
    assert lib.rt_token_key_add(core, b"svc-2026", SEED, 32) == 0
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    iat = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    # An offset time, as other issuers write them.
    exp = (now + datetime.timedelta(minutes=5)).astimezone(datetime.timezone(datetime.timedelta(hours=2)))
    message = json.dumps({"sub": "user-9", "typ": "refresh", "iat": iat, "exp": exp.isoformat()},
                         separators=(",", ":")).encode()
    footer = b'{"kid":"svc-2026"}'
    signature = nacl.signing.SigningKey(SEED).sign(pae(b"v4.public.", message, footer, b"")).signature
    token = b"v4.public." + b64encode(message + signature) + b"." + b64encode(footer)
    out = Bytes()
    assert lib.rt_token_verify(core, token, len(token), RT_TOKEN_REFRESH, ctypes.byref(out)) == 0
    assert take(lib, out) == message
    assert lib.rt_token_verify(core, token, len(token), RT_TOKEN_ACCESS, ctypes.byref(out)) == RT_EPERM
    # Signed over another implicit assertion, or by another key under the same id: refused.
    forged = nacl.signing.SigningKey(bytes(32)).sign(pae(b"v4.public.", message, footer, b"")).signature
    bad = b"v4.public." + b64encode(message + forged) + b"." + b64encode(footer)
    assert lib.rt_token_verify(core, bad, len(bad), RT_TOKEN_REFRESH, ctypes.byref(out)) == RT_ECORRUPT
    other = b"v4.public." + b64encode(message + signature) + b"." + b64encode(b'{"kid":"svc-2025"}')
    assert lib.rt_token_verify(core, other, len(other), RT_TOKEN_REFRESH, ctypes.byref(out)) == RT_ENOTFOUND
