"""The command line's commands, one module per group; agent.py parses the arguments and dispatches here.

Each command imports what only it needs inside its function (lazy, for start-up time, and because `serve`
must patch gevent before anything else is imported).
"""
