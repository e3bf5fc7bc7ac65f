"""PyInstaller runtime hook (agent.spec): programs the agent starts get the user's library path back.

The one-file bootloader puts its own extraction directory first on LD_LIBRARY_PATH. Left there, every
program we start inherits it: notify-send (plyer's notifications), xdg-open and the like would then load the
libz/libffi/libX11 copies built for the build machine instead of their own. Our own children get it back
from core/children.child_env, so they load the same bundled libraries as their parent.
"""

import os
import sys


def _restore_library_path() -> None:
    if not sys.platform.startswith("linux"):
        return
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original:
        os.environ["LD_LIBRARY_PATH"] = original
    else:
        os.environ.pop("LD_LIBRARY_PATH", None)


_restore_library_path()
