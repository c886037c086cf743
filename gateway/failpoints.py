"""Named crash points for crash-safety tests.

``CROSSBLOCK_FAILPOINT=<name>`` makes the process kill itself with SIGKILL when it reaches
``failpoint(<name>)`` — the harshest crash there is, used by the tests to prove that publishing and
syncing are exactly-once across ``kill -9`` anywhere. Unset (always, in production) it costs one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def failpoint(name: str) -> None:
    """Die here, without cleanup, if the failpoint ``name`` is armed."""
    if os.environ.get("CROSSBLOCK_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
