"""Deterministic sampling: whether a source is in a sample depends only on what names it.

Rules and imports share it, so a retry, a re-scan or a second import decides every source the
same way, and a source in a sample at rate r is in every sample of the same seed at a larger
rate.
"""

from __future__ import annotations

import hashlib

# The seed of an import's sample when it does not sample as one of the dataset's rules.
IMPORT_SEED = "import"


def sampled_in(*, seed: int | str, source_id: int, rate: float) -> bool:
    """Answer whether `source_id` is in the sample of `seed` at `rate` (0 < rate <= 1)."""
    if rate >= 1:
        return True
    digest = hashlib.sha256(f"{seed}:{source_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate
