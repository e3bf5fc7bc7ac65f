"""scripts/build-extension.sh: the two packages a user installs, built from the one extension/ source."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("zip") is None,
                                reason="the build needs node and zip (scripts/system-packages.sh --test)")


@pytest.fixture(scope="module")
def packages():
    subprocess.run(["sh", "scripts/build-extension.sh"], cwd=ROOT, check=True, capture_output=True, timeout=120)
    return {name: zipfile.ZipFile(ROOT / "dist" / f"crm-agent-{name}.zip") for name in ("chromium", "firefox")}


def _manifest(package: zipfile.ZipFile) -> dict:
    return json.loads(package.read("manifest.json"))


def test_both_packages_carry_the_same_runtime_files_and_nothing_for_development(packages):
    chromium, firefox = (set(packages[name].namelist()) for name in ("chromium", "firefox"))
    assert chromium == firefox
    for required in ("manifest.json", "background.js", "content.js", "options.html", "popup.html",
                     "src/content/selectors.js", "src/lib/queue.js"):
        assert required in chromium, required
    assert not [n for n in chromium if n.startswith(("test/", "node_modules/")) or n.endswith((".pem", ".md"))]


def test_the_chromium_manifest_is_the_source_one_with_its_fixed_key(packages):
    source = json.loads((ROOT / "extension" / "manifest.json").read_text())
    assert _manifest(packages["chromium"]) == source
    assert source["manifest_version"] == 3 and source["key"]
    assert source["background"]["service_worker"] == "background.js"


def test_the_firefox_manifest_uses_background_scripts_and_a_gecko_id(packages):
    manifest = _manifest(packages["firefox"])
    assert manifest["manifest_version"] == 3
    assert "service_worker" not in manifest["background"] and manifest["background"]["scripts"]
    assert manifest["browser_specific_settings"]["gecko"]["id"]
    assert "key" not in manifest
