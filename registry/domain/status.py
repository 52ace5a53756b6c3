"""What a certificate's status is for the people who read it: a certificate past its validity
is ``expired`` wherever it is shown, searched or exported, whatever its stored state says.

The stored state is what a body or the operator set (active, suspended, revoked); expiry needs
no one to act, so it is derived at the time of reading.
"""

from __future__ import annotations

from datetime import datetime

#: Every status a reader can see, and search by.
STATUSES = ("active", "suspended", "revoked", "expired")


def effective_status(stored: str, valid_until: datetime, now: datetime) -> str:
    """``expired`` for an active or suspended certificate whose validity has ended; a revoked
    certificate stays revoked (revocation says more than expiry)."""
    if stored != "revoked" and now >= valid_until:
        return "expired"
    return stored
