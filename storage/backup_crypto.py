"""Streaming AES-256-GCM for backup files, chunk by chunk, so a large database never sits in memory.

File layout:
    header   = MAGIC (16 bytes) | key id (8: the first bytes of SHA-256 of the key) | chunk size (4, big endian)
    chunk i  = nonce (12, random) | ciphertext length (4) | ciphertext + 16-byte tag
Each chunk's associated data is header | i (8 bytes) | final flag (1 byte), so the tag fails when a chunk
is moved, the header is edited or the file is cut after any chunk but the last (no chunk would carry
final = 1). The key id lets a wrong key fail with a clear message before any decryption is tried.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.secrets_store import read_or_create_secret, read_secret

MAGIC = b"CRMAGENT-BACKUP\x01"
CHUNK_SIZE = 1024 * 1024
KEY_BYTES = 32
_HEADER = struct.Struct(">16s8sI")
_CHUNK_HEAD = struct.Struct(">12sI")
_TAG = 16


class BackupCryptoError(ValueError):
    """The file cannot be decrypted: wrong or missing key, damaged, truncated or tampered with."""


def is_encrypted(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:8]


def load_or_create_key(path: Path) -> bytes:
    """The backup key (kept hex-encoded, 0600), generated on first use."""
    return bytes.fromhex(read_or_create_secret(path, KEY_BYTES))


def load_key(path: Path) -> bytes | None:
    value = read_secret(path)
    if value is None:
        return None
    try:
        key = bytes.fromhex(value)
    except ValueError:
        raise BackupCryptoError(f"the backup key file {path} is not valid (expected {KEY_BYTES * 2} hex digits)") \
            from None
    if len(key) != KEY_BYTES:
        raise BackupCryptoError(f"the backup key file {path} is not valid (expected {KEY_BYTES * 2} hex digits)")
    return key


def encrypt_file(source: Path, target: Path, key: bytes,
                 progress: Callable[[int, int], None] | None = None) -> None:
    """Encrypt source into target (created 0600)."""
    total = source.stat().st_size
    aead = AESGCM(key)
    header = _HEADER.pack(MAGIC, key_id(key), CHUNK_SIZE)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        out.write(header)
        done = 0
        index = 0
        chunk = src.read(CHUNK_SIZE)
        while True:
            following = src.read(CHUNK_SIZE) if len(chunk) == CHUNK_SIZE else b""
            final = not following
            nonce = os.urandom(12)
            sealed = aead.encrypt(nonce, chunk, _aad(header, index, final))
            out.write(_CHUNK_HEAD.pack(nonce, len(sealed)))
            out.write(sealed)
            done += len(chunk)
            if progress:
                progress(done, total)
            if final:
                break
            chunk, index = following, index + 1
        out.flush()
        os.fsync(out.fileno())


def decrypt_file(source: Path, target: Path, key: bytes | None, key_path: Path,
                 progress: Callable[[int, int], None] | None = None) -> None:
    """Decrypt source into target (created 0600); BackupCryptoError says clearly what is wrong."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        _decrypt(source, out.write, key, key_path, progress)
        out.flush()
        os.fsync(out.fileno())


def verify_file(source: Path, key: bytes, progress: Callable[[int, int], None] | None = None) -> None:
    """Read the encrypted file back and check every chunk's tag (nothing is written)."""
    _decrypt(source, lambda _plain: None, key, Path("(the key just used)"), progress)


def _decrypt(source: Path, write: Callable[[bytes], object], key: bytes | None, key_path: Path,
             progress: Callable[[int, int], None] | None) -> None:
    total = source.stat().st_size
    with open(source, "rb") as src:
        header, chunk_size = _read_header(src, key, key_path)
        assert key is not None  # _read_header refuses a missing key
        aead = AESGCM(key)
        index = 0
        while True:
            head = src.read(_CHUNK_HEAD.size)
            if not head:
                raise BackupCryptoError(f"the encrypted backup {source.name} is truncated (it ends after chunk "
                                        f"{index - 1} without the final chunk)")
            if len(head) < _CHUNK_HEAD.size:
                raise BackupCryptoError(f"the encrypted backup {source.name} is truncated inside chunk {index}")
            nonce, length = _CHUNK_HEAD.unpack(head)
            if length < _TAG or length > chunk_size + _TAG:
                raise BackupCryptoError(f"the encrypted backup {source.name} is damaged (chunk {index} has an "
                                        "impossible length)")
            sealed = src.read(length)
            if len(sealed) < length:
                raise BackupCryptoError(f"the encrypted backup {source.name} is truncated inside chunk {index}")
            plain, final = _open_chunk(aead, nonce, sealed, header, index, source.name)
            write(plain)
            if progress:
                progress(src.tell(), total)
            if final:
                break
            index += 1
        if src.read(1):
            raise BackupCryptoError(f"the encrypted backup {source.name} has data after its final chunk "
                                    "(tampered with)")


def _read_header(src: BinaryIO, key: bytes | None, key_path: Path) -> tuple[bytes, int]:
    header = src.read(_HEADER.size)
    if len(header) < _HEADER.size or not header.startswith(MAGIC):
        raise BackupCryptoError("not an encrypted CRM Agent backup (unknown header)")
    _, file_key_id, chunk_size = _HEADER.unpack(header)
    if key is None:
        raise BackupCryptoError(f"this backup is encrypted (key id {file_key_id.hex()}) and there is no backup key "
                                f"at {key_path}; put the key file that was used for it there")
    if key_id(key) != file_key_id:
        raise BackupCryptoError(f"this backup was encrypted with a different key (key id {file_key_id.hex()}; the "
                                f"key at {key_path} has id {key_id(key).hex()}); restore needs the original key file")
    if not 0 < chunk_size <= 64 * CHUNK_SIZE:
        raise BackupCryptoError("the encrypted backup's header is damaged (chunk size)")
    return header, chunk_size


def _open_chunk(aead: AESGCM, nonce: bytes, sealed: bytes, header: bytes, index: int,
                name: str) -> tuple[bytes, bool]:
    """(plaintext, final): the final flag is not stored in clear, so try both; only the true one verifies."""
    for final in (False, True):
        try:
            return aead.decrypt(nonce, sealed, _aad(header, index, final)), final
        except InvalidTag:
            continue
    raise BackupCryptoError(f"the encrypted backup {name} is damaged or was tampered with (chunk {index} failed "
                            "authentication)")


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + struct.pack(">QB", index, 1 if final else 0)
