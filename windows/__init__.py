"""The Tk UI process (`agent.py ui dashboard|settings|logs`): a client of the service's HTTP API and WS only."""
