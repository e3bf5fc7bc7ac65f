"""Where the Connect window tells the user the extension is: the source tree, or a copy of the PyInstaller
bundle's files in the data directory (the bundle's own folder disappears when the agent exits)."""

from __future__ import annotations

from pathlib import Path

from desktop.extension_files import ExtensionFiles, locate_extension, tree_digest


def make_extension(root: Path, version: str = "0.1.0", zips: tuple[str, ...] = ()) -> Path:
    folder = root / "extension"
    (folder / "background").mkdir(parents=True)
    (folder / "manifest.json").write_text(f'{{"manifest_version": 3, "version": "{version}"}}')
    (folder / "background" / "worker.js").write_text(f"// {version}\n")
    for name in zips:
        (root / "dist").mkdir(exist_ok=True)
        (root / "dist" / name).write_bytes(b"PK" + version.encode())
    return folder


def test_from_source_the_repo_folder_and_the_built_zips(tmp_path):
    repo = tmp_path / "repo"
    folder = make_extension(repo, zips=("crm-agent-firefox.zip", "crm-agent-chromium.zip"))
    (repo / "dist" / "other.zip").write_bytes(b"")
    files = locate_extension(tmp_path / "data", source_root=repo)
    assert files.folder == folder and files.manifest == folder / "manifest.json"
    assert [z.name for z in files.zips] == ["crm-agent-chromium.zip", "crm-agent-firefox.zip"]
    assert files.zip_for("firefox") == repo / "dist" / "crm-agent-firefox.zip"
    assert files.folder_to_open() == folder
    assert not (tmp_path / "data").exists()  # nothing is copied from source


def test_from_source_without_a_build_or_a_folder(tmp_path):
    (tmp_path / "repo").mkdir()
    files = locate_extension(tmp_path / "data", source_root=tmp_path / "repo")
    assert files == ExtensionFiles(None, ()) and not files.found and files.folder_to_open() is None
    make_extension(tmp_path / "zips-only", zips=("crm-agent-chromium.zip",))
    (tmp_path / "zips-only" / "extension" / "manifest.json").unlink()  # a folder without a manifest is no extension
    only_zips = locate_extension(tmp_path / "data", source_root=tmp_path / "zips-only")
    assert only_zips.folder is None and only_zips.folder_to_open() == tmp_path / "zips-only" / "dist"


def test_frozen_copies_the_bundle_into_the_data_dir_and_refreshes_it_after_an_upgrade(tmp_path):
    bundle, data = tmp_path / "_MEI123", tmp_path / "data"
    make_extension(bundle, "0.1.0", zips=("crm-agent-chromium.zip",))
    files = locate_extension(data, bundle=bundle)
    assert files.folder == data / "extension" and files.zips == (data / "extension-zips" / "crm-agent-chromium.zip",)
    assert tree_digest(data / "extension") == tree_digest(bundle / "extension")
    mtime = (data / "extension" / "manifest.json").stat().st_mtime_ns

    assert locate_extension(data, bundle=bundle) == files  # the same files: nothing rewritten
    assert (data / "extension" / "manifest.json").stat().st_mtime_ns == mtime

    (data / "extension" / "stray.js").write_text("left by an old version")
    upgraded = tmp_path / "_MEI456"
    make_extension(upgraded, "0.2.0", zips=("crm-agent-chromium.zip",))
    locate_extension(data, bundle=upgraded)
    assert '"0.2.0"' in (data / "extension" / "manifest.json").read_text()
    assert not (data / "extension" / "stray.js").exists()
    assert (data / "extension-zips" / "crm-agent-chromium.zip").read_bytes() == b"PK0.2.0"
    assert sorted(p.name for p in data.iterdir()) == ["extension", "extension-zips"]  # no .new/.old left
