"""Envelope encryption of backup files, streamed both ways (never the whole file in memory).

Layout: MAGIC, the length (4 bytes) and bytes of the file's data key sealed by the
service's SecretBox (so rotating DBVEND_SECRET_KEY keeps old files readable while the old
key is listed), then chunks: length (4 bytes) + AES-256-GCM ciphertext of at most CHUNK
plaintext bytes. A chunk's nonce is its counter (8 bytes) and a final-chunk flag (1 byte)
and its associated data is the header: a reordered, dropped, appended or truncated chunk,
or a header from another file, fails authentication. The key is random per file, so the
counter nonce never repeats under one key."""

from __future__ import annotations

import base64
import hashlib
import os
import struct
from collections.abc import Iterator
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..crypto import SecretBox

MAGIC = b"DBVBAK1\n"
CHUNK = 1024 * 1024
_TAG = 16
_LEN = struct.Struct(">I")
_MAX_WRAPPED = 4096


class CorruptBackup(Exception):
    """The file is not what the service wrote: tampered, truncated or sealed with another key."""


def _nonce(counter: int, final: bool) -> bytes:
    return counter.to_bytes(8, "big") + (b"\x01" if final else b"\x00") + b"\x00\x00\x00"


def _read_exact(src: BinaryIO, n: int) -> bytes:
    data = b""
    while len(data) < n:
        more = src.read(n - len(data))
        if not more:
            break
        data += more
    return data


def encrypt_stream(src: BinaryIO, dst: BinaryIO, box: SecretBox) -> tuple[int, str]:
    """Encrypt `src` into `dst`; returns the plaintext's size and SHA-256 (hex)."""
    key = AESGCM.generate_key(bit_length=256)
    wrapped = box.seal({"backup_key": base64.b64encode(key).decode()})
    header = MAGIC + _LEN.pack(len(wrapped)) + wrapped
    dst.write(header)
    aead = AESGCM(key)
    digest = hashlib.sha256()
    size = 0
    counter = 0
    chunk = _read_exact(src, CHUNK)
    while True:
        following = _read_exact(src, CHUNK) if len(chunk) == CHUNK else b""
        final = not following
        digest.update(chunk)
        size += len(chunk)
        sealed = aead.encrypt(_nonce(counter, final), chunk, header)
        dst.write(_LEN.pack(len(sealed)) + sealed)
        if final:
            return size, digest.hexdigest()
        counter += 1
        chunk = following


def decrypt_chunks(src: BinaryIO, box: SecretBox) -> Iterator[bytes]:
    """The plaintext chunk by chunk; CorruptBackup as soon as anything does not authenticate
    (a consumer must not treat what it got before that as a whole file)."""
    magic = _read_exact(src, len(MAGIC))
    if magic != MAGIC:
        raise CorruptBackup("the backup file does not start like a dbvend backup")
    (wrapped_len,) = _LEN.unpack(_read_exact(src, _LEN.size) or b"\xff\xff\xff\xff")
    if wrapped_len > _MAX_WRAPPED:
        raise CorruptBackup("the backup file's key header is malformed")
    wrapped = _read_exact(src, wrapped_len)
    try:
        key = base64.b64decode(box.open(wrapped)["backup_key"], validate=True)
    except (ValueError, KeyError) as exc:
        raise CorruptBackup("the backup file's key cannot be opened with the service's keys") from exc
    if len(key) != 32:
        raise CorruptBackup("the backup file's key is malformed")
    header = MAGIC + _LEN.pack(wrapped_len) + wrapped
    aead = AESGCM(key)
    counter = 0
    while True:
        raw_len = _read_exact(src, _LEN.size)
        if len(raw_len) < _LEN.size:
            raise CorruptBackup("the backup file is truncated (its final chunk is missing)")
        (length,) = _LEN.unpack(raw_len)
        if length < _TAG or length > CHUNK + _TAG:
            raise CorruptBackup(f"chunk {counter} of the backup file has a malformed length")
        sealed = _read_exact(src, length)
        if len(sealed) < length:
            raise CorruptBackup("the backup file is truncated")
        for final in (False, True):
            try:
                plain = aead.decrypt(_nonce(counter, final), sealed, header)
            except InvalidTag:
                continue
            break
        else:
            raise CorruptBackup(f"chunk {counter} of the backup file fails authentication (tampered?)")
        yield plain
        if final:
            if src.read(1):
                raise CorruptBackup("the backup file has data after its final chunk")
            return
        counter += 1


def decrypt_to(src: BinaryIO, dst: BinaryIO, box: SecretBox, *, sha256: str) -> int:
    """Decrypt into `dst` while checking the plaintext's SHA-256; returns its size."""
    digest = hashlib.sha256()
    size = 0
    for chunk in decrypt_chunks(src, box):
        digest.update(chunk)
        size += len(chunk)
        dst.write(chunk)
    if digest.hexdigest() != sha256:
        raise CorruptBackup("the backup's SHA-256 does not match the one recorded when it was made")
    return size


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
