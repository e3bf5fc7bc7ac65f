"""What only the desktop processes (the tray and the windows) need: the service's HTTP client and event stream,
one instance per data directory, start on login, where the browser extension is, how a pairing code reads.

It sits between the desktop clients and core: tray/ and windows/ import it and core/, never each other; the
service side never imports it (pyproject.toml [tool.importlinter]).
"""
