"""The encrypted backup format on real files: round trip, and every kind of damage is named and refused."""

from __future__ import annotations

import os
import sqlite3

import pytest

from storage.backup_crypto import (
    _CHUNK_HEAD,
    _HEADER,
    CHUNK_SIZE,
    BackupCryptoError,
    decrypt_file,
    encrypt_file,
    load_or_create_key,
    verify_file,
)


@pytest.fixture
def encrypted(tmp_path):
    source = tmp_path / "plain.db"
    with sqlite3.connect(source) as conn:
        conn.execute("CREATE TABLE t (data BLOB)")
        conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(65536),) for _ in range(40)])  # ~2.6 MB
    key = load_or_create_key(tmp_path / "backup.key")
    target = tmp_path / "plain.db.enc"
    encrypt_file(source, target, key)
    return source, target, key


def _chunks(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each chunk record."""
    out, offset = [], _HEADER.size
    while offset < len(data):
        length = _CHUNK_HEAD.size + int.from_bytes(data[offset + 12:offset + 16], "big")
        out.append((offset, length))
        offset += length
    return out


def _decrypt(tmp_path, data: bytes, key: bytes) -> bytes:
    damaged = tmp_path / "damaged.enc"
    damaged.write_bytes(data)
    out = tmp_path / "out.db"
    decrypt_file(damaged, out, key, tmp_path / "backup.key")
    return out.read_bytes()


def test_round_trip_in_several_chunks_and_key_file_mode(tmp_path, encrypted):
    source, target, key = encrypted
    data = target.read_bytes()
    assert len(_chunks(data)) == source.stat().st_size // CHUNK_SIZE + 1
    assert (tmp_path / "backup.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(tmp_path / "backup.key") == key  # created once, then reused
    assert _decrypt(tmp_path, data, key) == source.read_bytes()


def test_truncation_at_a_chunk_boundary_or_inside_a_chunk_is_refused(tmp_path, encrypted):
    _, target, key = encrypted
    data = target.read_bytes()
    chunks = _chunks(data)
    with pytest.raises(BackupCryptoError, match="truncated"):
        _decrypt(tmp_path, data[:chunks[-1][0]], key)  # the whole last chunk cut off
    with pytest.raises(BackupCryptoError, match="truncated"):
        _decrypt(tmp_path, data[:chunks[1][0] + 100], key)
    with pytest.raises(BackupCryptoError, match="truncated"):
        _decrypt(tmp_path, data[:_HEADER.size], key)


def test_reordered_flipped_or_appended_data_is_refused(tmp_path, encrypted):
    _, target, key = encrypted
    data = target.read_bytes()
    (a, la), (b, lb) = _chunks(data)[0], _chunks(data)[1]
    swapped = data[:a] + data[b:b + lb] + data[a:a + la] + data[b + lb:]
    with pytest.raises(BackupCryptoError, match="tampered"):
        _decrypt(tmp_path, swapped, key)
    flipped = bytearray(data)
    flipped[b + _CHUNK_HEAD.size + 10] ^= 0x80
    with pytest.raises(BackupCryptoError, match="chunk 1 failed authentication"):
        _decrypt(tmp_path, bytes(flipped), key)
    verify_file(target, key)  # the read-back check after writing a backup passes on the intact file...
    (tmp_path / "flipped.enc").write_bytes(bytes(flipped))
    with pytest.raises(BackupCryptoError, match="chunk 1 failed authentication"):
        verify_file(tmp_path / "flipped.enc", key)  # ...and catches a damaged one
    header_edit = bytearray(data)
    header_edit[_HEADER.size - 1] ^= 0x01  # the chunk size in the header
    with pytest.raises(BackupCryptoError):
        _decrypt(tmp_path, bytes(header_edit), key)
    last_offset, last_len = _chunks(data)[-1]
    with pytest.raises(BackupCryptoError, match="after its final chunk"):
        _decrypt(tmp_path, data + data[last_offset:last_offset + last_len], key)


def test_wrong_or_missing_key_is_named_before_decrypting(tmp_path, encrypted):
    _, target, _ = encrypted
    with pytest.raises(BackupCryptoError, match="different key"):
        decrypt_file(target, tmp_path / "out.db", os.urandom(32), tmp_path / "backup.key")
    with pytest.raises(BackupCryptoError, match="no backup key"):
        decrypt_file(target, tmp_path / "out.db", None, tmp_path / "backup.key")
    with pytest.raises(BackupCryptoError, match="not an encrypted"):
        decrypt_file(tmp_path / "plain.db", tmp_path / "out.db", os.urandom(32), tmp_path / "backup.key")
