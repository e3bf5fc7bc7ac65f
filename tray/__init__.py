"""The desktop shell: tray icon, service supervisor, native notifications (single instance and autostart come
from desktop/).

This package runs in the tray process and must never import gevent, bottle or the storage layer: it talks
to the service only over its HTTP/WebSocket API (see docs/decisions.md and the design notes).
"""
