"""gunicorn settings for the team hub (README "Sync to a team hub", docs/decisions.md "A hub for a whole team").

    CRM_AGENT_HOME=/var/lib/crm-agent-hub CRM_AGENT__DATABASE__PATH=postgresql://crm@/crm_hub \
        gunicorn -c deploy/gunicorn.conf.py 'runtime.hub:create_hub_app()'

Every value can be changed on the command line (-w 4, -b 0.0.0.0:8443) or through GUNICORN_CMD_ARGS.
"""

import multiprocessing
import os
from typing import Any

# One worker per core: each is one gevent event loop, serving many pushes at once while they wait for PostgreSQL.
workers = int(os.environ.get("CRM_HUB_WORKERS", multiprocessing.cpu_count()))
worker_class = "gevent"
worker_connections = 1000
bind = os.environ.get("CRM_HUB_BIND", "127.0.0.1:8443")
# No preload: each worker imports and builds the hub after gevent patched it (a pool created before the fork, or
# SQLAlchemy's locks made before patching, would be shared or block the loop).
preload_app = False
# A push of 500 rows takes milliseconds; a stuck worker is restarted after this many seconds.
timeout = 60
graceful_timeout = 10
keepalive = 30
# The agents' batches are bounded by server.max_body_bytes in the app; gunicorn's own limits stay at defaults.
accesslog = None  # the app logs one line per request itself (server.request_log)
errorlog = "-"
# No control socket in $HOME (gunicorn 25+): systemd and signals (HUP reload, TERM stop, TTIN/TTOU workers) manage it.
control_socket_disable = True
# TLS: gunicorn's certfile/keyfile here, or a reverse proxy in front (then list its name in server.allowed_hosts).


def post_worker_init(worker: Any) -> None:
    """The hub's Host check (DNS rebinding) accepts the port this worker's socket is bound to."""
    sockets = [s.getsockname() for s in worker.sockets]
    ports = [name[1] for name in sockets if isinstance(name, tuple)]
    if ports:
        worker.wsgi.listening_on(ports[0])


def worker_exit(server: Any, worker: Any) -> None:
    """Close the worker's service: its connection pool and files."""
    app = getattr(worker, "wsgi", None)
    if app is not None and hasattr(app, "close"):
        app.close()
