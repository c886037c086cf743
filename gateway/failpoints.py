"""Named crash points for crash-safety tests.

``CROSSBLOCK_FAILPOINT=<name>`` makes the process kill itself with SIGKILL when it reaches
``failpoint(<name>)`` — the harshest crash there is, used by the tests to prove that publishing and
syncing are exactly-once across ``kill -9`` anywhere. ``<name>@<n>`` dies the ``n``-th time the
point is reached instead of the first (e.g. ``publish-after-sign@2``: the first batch goes through,
the process dies once the second is signed). Unset (always, in production) it costs one dictionary
lookup.

Points: ``publish-after-sign`` (batch signed and stored, not submitted), ``publish-after-submit``
(transaction mined, batch not yet marked confirmed), ``sync-mid-apply`` (a chunk's batches and cursor
written, transaction not committed).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_reached: Counter[str] = Counter()


def failpoint(name: str) -> None:
    """Die here, without cleanup, if the failpoint ``name`` is armed (and this is its ``n``-th hit)."""
    armed = os.environ.get("CROSSBLOCK_FAILPOINT")
    if armed is None:
        return
    point, _, nth = armed.partition("@")
    if point != name:
        return
    _reached[name] += 1
    if _reached[name] >= (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)
