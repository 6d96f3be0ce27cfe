"""The one clock bound tests may use, for tests about *not hanging*.

Tests assert counts, order and outcomes, not speed (speed is bench/'s business). A few are
about a wait that must not happen at all -- a 400 s sleep waited out, a connect with no
timeout -- and those check :data:`NOT_HANGING`: far above the normal time of the step on a
loaded machine, far below the hang they guard against. Each such use says what it guards.
"""

from __future__ import annotations

#: seconds; the hangs guarded against are at least twice as long
NOT_HANGING = 60.0
