"""psycopg2 that yields to other greenlets while it waits for PostgreSQL, so one hub process serves N pushes at once.

psycopg2's documented hook for coroutine libraries (`psycopg2.extensions.set_wait_callback`): with a wait callback
installed, every connection runs in asynchronous mode and calls it whenever the server has not answered yet; ours
waits on the socket through gevent (wait_read / wait_write), so the event loop runs other requests meanwhile. This
is what the psycogreen package does, in the dozen lines below; see docs/decisions.md "A hub for a whole team".
"""

from __future__ import annotations

from typing import Any


def make_psycopg2_cooperative() -> None:
    """Install the gevent wait callback for every psycopg2 connection of this process (idempotent). Call it after
    gevent's monkey patching, before the first connection is opened."""
    from psycopg2 import extensions

    extensions.set_wait_callback(gevent_wait_callback)


def gevent_wait_callback(conn: Any, timeout: float | None = None) -> None:
    """Poll the connection until the statement or the connection attempt has finished, yielding on its socket."""
    from gevent.socket import wait_read, wait_write
    from psycopg2 import OperationalError, extensions

    while True:
        state = conn.poll()
        if state == extensions.POLL_OK:
            return
        if state == extensions.POLL_READ:
            wait_read(conn.fileno(), timeout=timeout)
        elif state == extensions.POLL_WRITE:
            wait_write(conn.fileno(), timeout=timeout)
        else:
            raise OperationalError(f"bad result from poll: {state!r}")


def is_cooperative() -> bool:
    from psycopg2 import extensions

    return extensions.get_wait_callback() is gevent_wait_callback
