"""The Tk UI process (`agent.py ui dashboard|settings|logs|connect`): a client of the service's HTTP API and WS
only. Imports desktop/ and core/, never tray/ or the service side; no two of its modules import each other."""
