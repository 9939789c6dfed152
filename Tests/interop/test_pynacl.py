"""Interoperability of sealed payloads with standard libsodium formats, checked with PyNaCl
against the shipped librealtime.so (through ctypes, as any C host would call it): a payload sealed
by rt_seal opens with PyNaCl's XChaCha20-Poly1305 under a subkey derived exactly as
docs/security.md says; sealed boxes cross both ways.

Run by scripts/test.sh after the library is built: RT_LIB=dist/lib/librealtime.so."""
import ctypes
import os

import nacl.bindings
import nacl.encoding
import nacl.hash
import nacl.public
import pytest

from conftest import Bytes, take

def subkey(master, purpose_context, name):
    """crypto_kdf_derive_from_key(32, id, context, master), the id being the keyed BLAKE2b-64 of
    the name read little-endian: BLAKE2b-256 of nothing, keyed by the master key, with the id as
    salt and the context as personalization (libsodium's construction)."""
    sub_id = nacl.hash.blake2b(name, digest_size=8, key=master, encoder=nacl.encoding.RawEncoder)
    return nacl.hash.blake2b(b"", digest_size=32, key=master, salt=sub_id + b"\0" * 8,
                             person=purpose_context + b"\0" * 8, encoder=nacl.encoding.RawEncoder)


def test_a_sealed_payload_opens_with_pynacl(lib, core):
    master = bytes(range(32))
    assert lib.rt_key_add(core, 7, master, 32) == 0
    context, ad, message = b"invoices", b"row 42", b"the library sealed this"
    out = Bytes()
    assert lib.rt_seal(core, context, ad, len(ad), message, len(message), ctypes.byref(out)) == 0
    sealed = take(lib, out)
    assert sealed[0] == 1 and int.from_bytes(sealed[1:5], "little") == 7
    nonce, ciphertext = sealed[5:29], sealed[29:]
    aad = (b"rtseal" + bytes([1]) + (7).to_bytes(4, "little") + bytes([3]) + len(context).to_bytes(4, "little")
           + context + (0).to_bytes(8, "little") + ad)
    key = subkey(master, b"rthost01", context)
    opened = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key)
    assert opened == message
    # And the other way: PyNaCl seals in the documented format, the library opens it.
    nonce = os.urandom(24)
    theirs = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(b"pynacl sealed this", aad, nonce, key)
    blob = bytes([1]) + (7).to_bytes(4, "little") + nonce + theirs
    assert lib.rt_open(core, context, ad, len(ad), blob, len(blob), ctypes.byref(out)) == 0
    assert take(lib, out) == b"pynacl sealed this"
    # Another associated data: refused (RT_ECORRUPT), nothing returned.
    assert lib.rt_open(core, context, b"row 43", 6, blob, len(blob), ctypes.byref(out)) == -6
    assert out.len == 0


def test_sealed_boxes_cross_both_ways(lib):
    recipient = nacl.public.PrivateKey.generate()
    pk, sk = bytes(recipient.public_key), bytes(recipient)
    out = Bytes()
    assert lib.rt_box_seal(pk, b"to pynacl", 9, ctypes.byref(out)) == 0
    assert nacl.public.SealedBox(recipient).decrypt(take(lib, out)) == b"to pynacl"
    sealed = nacl.public.SealedBox(recipient.public_key).encrypt(b"from pynacl")
    assert lib.rt_box_open(pk, sk, sealed, len(sealed), ctypes.byref(out)) == 0
    assert take(lib, out) == b"from pynacl"
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    assert lib.rt_box_open(pk, sk, tampered, len(tampered), ctypes.byref(out)) == -6
