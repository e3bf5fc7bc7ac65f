"""`python -m tray [--data-dir DIR] [--port N]`: the desktop agent (what `python agent.py` runs)."""

import sys

from tray.app import main

sys.exit(main())
