"""Where the browser extension is for the user: the folder to "Load unpacked" and the built zips.

From source they are `<repo>/extension` (manifest.json at its root) and `<repo>/dist/crm-agent-*.zip`
(scripts/build-extension.sh). In the PyInstaller build they sit under sys._MEIPASS, which the one-file
bootloader deletes when the process exits: a browser pointed at that folder would lose the extension at
the agent's next start. So the bundled copy is copied to `<data dir>/extension/` (and the zips to
`<data dir>/extension-zips/`), a path that stays; it is refreshed in place when an upgrade brings other
files, so the browser's "Reload" picks up the new version without loading it again.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parent.parent
FOLDER = "extension"
ZIPS = "extension-zips"
ZIP_PATTERN = "crm-agent-*.zip"


@dataclass(frozen=True)
class ExtensionFiles:
    folder: Path | None  # has manifest.json: the folder to load unpacked; None when not found
    zips: tuple[Path, ...] = ()  # crm-agent-chromium.zip, crm-agent-firefox.zip when built

    @property
    def found(self) -> bool:
        return self.folder is not None or bool(self.zips)

    @property
    def manifest(self) -> Path | None:
        return self.folder / "manifest.json" if self.folder is not None else None

    def zip_for(self, browser: str) -> Path | None:
        """The zip whose name mentions the browser ("chromium", "firefox"), else None."""
        return next((z for z in self.zips if browser in z.name), None)

    def folder_to_open(self) -> Path | None:
        """What "Open folder" shows: the unpacked folder, else the folder holding the zips."""
        if self.folder is not None:
            return self.folder
        return self.zips[0].parent if self.zips else None


def bundle_dir() -> Path | None:
    """The PyInstaller bundle's directory when frozen, else None."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) if getattr(sys, "frozen", False) and bundle else None


def locate_extension(data_root: Path, *, source_root: Path = SOURCE_ROOT, bundle: Path | None = None,
                     ) -> ExtensionFiles:
    """The extension's files as the user should load them. In a bundle (`bundle`, else the running
    PyInstaller build's) the files are first copied into the data directory (cheap when already there).
    May write files: call it off the Tk thread."""
    bundle = bundle or bundle_dir()
    if bundle is not None:
        return copy_bundled_extension(bundle, data_root)
    return files_in(source_root / FOLDER, source_root / "dist")


def files_in(folder: Path, zip_dir: Path) -> ExtensionFiles:
    unpacked = folder if (folder / "manifest.json").is_file() else None
    zips = tuple(sorted(zip_dir.glob(ZIP_PATTERN))) if zip_dir.is_dir() else ()
    return ExtensionFiles(unpacked, zips)


def copy_bundled_extension(bundle: Path, data_root: Path) -> ExtensionFiles:
    """Copy <bundle>/extension to <data>/extension and <bundle>/dist/*.zip to <data>/extension-zips when they
    differ from what is there; answer the copies."""
    source = files_in(bundle / FOLDER, bundle / "dist")
    if source.folder is not None:
        sync_tree(source.folder, data_root / FOLDER)
    zip_target = data_root / ZIPS
    if source.zips:
        zip_target.mkdir(parents=True, exist_ok=True)
        for package in source.zips:
            copy_if_changed(package, zip_target / package.name)
    return files_in(data_root / FOLDER, zip_target)


def tree_digest(folder: Path) -> str:
    """SHA-256 over every file's relative path and content (an extension is a few hundred KiB)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def sync_tree(source: Path, target: Path) -> bool:
    """Make target a copy of source; True when something was written. The new tree is copied next to the
    target and swapped in, so a browser never sees a half-copied extension."""
    if target.is_dir() and tree_digest(target) == tree_digest(source):
        return False
    fresh = target.with_name(target.name + ".new")
    old = target.with_name(target.name + ".old")
    for leftover in (fresh, old):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(source, fresh)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return True


def copy_if_changed(source: Path, target: Path) -> bool:
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return False
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    partial.replace(target)
    return True
