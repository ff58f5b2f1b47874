"""The backup files' envelope encryption: round trips of every size, and every way a
stored file can be wrong (a flipped byte, a cut, reordered or dropped chunks, another
file's header, a key no longer configured) is refused, never returned as a whole file."""

from __future__ import annotations

import hashlib
import io
import os
import struct

import pytest
from cryptography.fernet import Fernet

from service.backupstore.envelope import CHUNK, MAGIC, CorruptBackup, decrypt_to, encrypt_stream
from service.crypto import SecretBox


def _box(*keys: str) -> SecretBox:
    return SecretBox(keys)


KEY1 = Fernet.generate_key().decode()
KEY2 = Fernet.generate_key().decode()


def _encrypt(data: bytes, box: SecretBox) -> bytes:
    out = io.BytesIO()
    size, sha = encrypt_stream(io.BytesIO(data), out, box)
    assert size == len(data)
    assert sha == hashlib.sha256(data).hexdigest()
    return out.getvalue()


def _decrypt(blob: bytes, box: SecretBox, sha: str) -> bytes:
    out = io.BytesIO()
    decrypt_to(io.BytesIO(blob), out, box, sha256=sha)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_round_trip(size: int) -> None:
    data = os.urandom(size)
    blob = _encrypt(data, _box(KEY1))
    # Plaintext of 16 bytes or more never shows through (shorter runs may by chance).
    assert size < 16 or data[:16] not in blob
    assert _decrypt(blob, _box(KEY1), hashlib.sha256(data).hexdigest()) == data


def _chunks(blob: bytes) -> tuple[bytes, list[bytes]]:
    """Split a file into its header and its (length-prefixed) chunks."""
    (wrapped_len,) = struct.unpack(">I", blob[len(MAGIC) : len(MAGIC) + 4])
    pos = len(MAGIC) + 4 + wrapped_len
    header, chunks = blob[:pos], []
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos : pos + 4])
        chunks.append(blob[pos : pos + 4 + n])
        pos += 4 + n
    return header, chunks


DATA = os.urandom(2 * CHUNK + 100)
SHA = hashlib.sha256(DATA).hexdigest()


def test_a_flipped_byte_anywhere_is_refused() -> None:
    blob = _encrypt(DATA, _box(KEY1))
    for where in (3, len(MAGIC) + 10, len(blob) // 2, len(blob) - 1):
        bad = bytearray(blob)
        bad[where] ^= 0x01
        with pytest.raises(CorruptBackup):
            _decrypt(bytes(bad), _box(KEY1), SHA)


def test_truncation_at_a_chunk_boundary_is_refused() -> None:
    """A file cut after a whole chunk authenticates chunk by chunk: only the missing
    final-chunk flag tells it is short."""
    header, chunks = _chunks(_encrypt(DATA, _box(KEY1)))
    assert len(chunks) == 3
    for keep in (0, 1, 2):
        with pytest.raises(CorruptBackup, match=r"truncated|final"):
            _decrypt(header + b"".join(chunks[:keep]), _box(KEY1), SHA)
    with pytest.raises(CorruptBackup, match="truncated"):
        _decrypt(header + chunks[0] + chunks[1][:100], _box(KEY1), SHA)


def test_reordered_dropped_or_appended_chunks_are_refused() -> None:
    header, chunks = _chunks(_encrypt(DATA, _box(KEY1)))
    for order in ([1, 0, 2], [0, 2], [0, 1, 2, 2], [2]):
        with pytest.raises(CorruptBackup):
            _decrypt(header + b"".join(chunks[i] for i in order), _box(KEY1), SHA)


def test_another_files_header_or_chunks_are_refused() -> None:
    one = _chunks(_encrypt(DATA, _box(KEY1)))
    two = _chunks(_encrypt(DATA, _box(KEY1)))
    with pytest.raises(CorruptBackup):
        _decrypt(one[0] + b"".join(two[1]), _box(KEY1), SHA)
    with pytest.raises(CorruptBackup):
        _decrypt(one[0] + one[1][0] + two[1][1] + one[1][2], _box(KEY1), SHA)


def test_a_wrong_checksum_is_refused() -> None:
    blob = _encrypt(DATA, _box(KEY1))
    with pytest.raises(CorruptBackup, match="SHA-256"):
        _decrypt(blob, _box(KEY1), "0" * 64)


def test_key_rotation_keeps_old_files_readable_and_a_dropped_key_is_clear() -> None:
    blob = _encrypt(DATA, _box(KEY1))
    rotated = _box(KEY2, KEY1)  # the new key first, the old still listed
    assert _decrypt(blob, rotated, SHA) == DATA
    assert _decrypt(_encrypt(DATA, rotated), _box(KEY2), SHA) == DATA  # new files use the new key
    with pytest.raises(CorruptBackup, match="key"):
        _decrypt(blob, _box(KEY2), SHA)


def test_not_a_backup_file() -> None:
    with pytest.raises(CorruptBackup):
        _decrypt(b"REDIS0011" + os.urandom(100), _box(KEY1), SHA)
    with pytest.raises(CorruptBackup):
        _decrypt(MAGIC + b"\xff\xff\xff\xff", _box(KEY1), SHA)
    with pytest.raises(CorruptBackup):
        _decrypt(b"", _box(KEY1), SHA)
