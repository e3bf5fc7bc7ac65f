"""api/connections.py on its own: which connection makes room at the cap, the open-files arithmetic.

Real sockets (socketpair) stand for connections; tests/test_connections.py drives the running service.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from api.connections import FILES_RESERVE, Connection, ConnectionTable, Phase, connection_limit


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made: list[tuple[socket.socket, socket.socket]] = []
    yield made
    for ours, theirs in made:
        ours.close()
        theirs.close()


def _connection(pairs, table: ConnectionTable, phase: Phase = Phase.WAITING) -> tuple[Connection, socket.socket]:
    ours, theirs = socket.socketpair()
    pairs.append((ours, theirs))
    connection = Connection(ours)
    assert table.admit(connection)
    table.enter(connection, phase)
    return connection, theirs


def _closed(peer: socket.socket) -> bool:
    peer.settimeout(1)
    return peer.recv(1) == b""


def test_at_the_cap_the_oldest_waiting_connection_makes_room(pairs):
    table = ConnectionTable(limit=3)
    oldest, oldest_peer = _connection(pairs, table)
    _connection(pairs, table)
    _connection(pairs, table)
    newest, _ = _connection(pairs, table)
    assert oldest.evicted and _closed(oldest_peer)
    assert not newest.evicted and table.open == 3 and table.evicted == 1


def test_waiting_connections_go_before_slow_headers_and_slow_bodies(pairs):
    table = ConnectionTable(limit=3)
    body, _ = _connection(pairs, table, Phase.BODY)
    headers, _ = _connection(pairs, table, Phase.HEADERS)
    waiting, _ = _connection(pairs, table, Phase.WAITING)
    _connection(pairs, table, Phase.ACTIVE)  # the idle one makes room, though it is the newest of the three
    assert waiting.evicted and not headers.evicted and not body.evicted
    _connection(pairs, table, Phase.ACTIVE)  # no other connection is waiting: slow headers go next
    assert headers.evicted and not body.evicted
    _connection(pairs, table, Phase.ACTIVE)  # and a slow body last
    assert body.evicted and table.open == 3


def test_a_phase_change_makes_a_connection_the_newest_of_its_phase(pairs):
    table = ConnectionTable(limit=2)
    first, _ = _connection(pairs, table)
    second, _ = _connection(pairs, table)
    table.enter(first, Phase.ACTIVE)
    table.enter(first, Phase.WAITING)  # a keep-alive that just finished a request
    _connection(pairs, table)
    assert second.evicted and not first.evicted


def test_busy_connections_are_never_closed_to_make_room(pairs):
    table = ConnectionTable(limit=2)
    _connection(pairs, table, Phase.ACTIVE)
    _connection(pairs, table, Phase.UPGRADED)
    ours, theirs = socket.socketpair()
    pairs.append((ours, theirs))
    assert not table.admit(Connection(ours))  # the caller answers 503
    assert table.open == 2 and table.evicted == 0


def test_removing_an_evicted_connection_counts_it_once(pairs):
    table = ConnectionTable(limit=1)
    first, _ = _connection(pairs, table)
    _connection(pairs, table)
    table.remove(first)  # its handler's cleanup, after the eviction already took it out
    table.enter(first, Phase.HEADERS)  # a phase change it made before noticing: ignored
    assert table.open == 1 and table.count(Phase.HEADERS) == 0


@pytest.mark.parametrize(("configured", "open_files", "expected"), [
    (1000, None, 1000), (1000, 20000, 1000), (1000, 1024, 1024 - FILES_RESERVE), (1000, 100, 1)])
def test_the_cap_fits_the_open_files_limit(configured, open_files, expected):
    assert connection_limit(configured, open_files) == expected
