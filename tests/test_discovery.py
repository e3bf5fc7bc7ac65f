"""core/discovery.py: the one reader and writer of service.json."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from core.discovery import read_service_info, read_service_url, remove_service_info, write_service_info
from core.paths import DataDir


@pytest.fixture
def data_dir(tmp_path: Path) -> DataDir:
    directory = DataDir(tmp_path)
    directory.ensure()
    return directory


def test_written_info_reads_back_with_a_loopback_url_and_is_private(data_dir: DataDir):
    written = write_service_info(data_dir, 43210)
    assert written.pid == os.getpid()
    assert read_service_info(data_dir) == written
    assert read_service_url(data_dir) == "http://127.0.0.1:43210"
    assert stat.S_IMODE(data_dir.service_info_file.stat().st_mode) == 0o600
    # Older clients read "url" from the file: it is still there.
    assert json.loads(data_dir.service_info_file.read_text())["url"] == "http://127.0.0.1:43210"


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"pid": 5}', '{"pid": "5", "port": 80}',
                                     '{"pid": 5, "port": 0}', '{"pid": 5, "port": 70000}', '{"pid": -1, "port": 80}'])
def test_a_missing_or_malformed_file_means_no_service(data_dir: DataDir, content: str):
    assert read_service_url(data_dir) is None
    data_dir.service_info_file.write_text(content)
    assert read_service_info(data_dir) is None
    assert read_service_url(data_dir) is None


def test_remove_with_a_pid_leaves_a_newer_service_file_alone(data_dir: DataDir):
    write_service_info(data_dir, 1111, pid=4242)
    remove_service_info(data_dir, pid=999)  # an old service stopping late must not erase the new one's file
    assert read_service_info(data_dir).pid == 4242
    remove_service_info(data_dir, pid=4242)
    assert not data_dir.service_info_file.exists()
    remove_service_info(data_dir)  # already gone: no error
