"""What the traffic store tells other apps, so that chat never has to know them.

`traffic_changed` is sent once a transaction that changed sessions has committed (never when
it rolls back), with `team_id` and the `chatbot_ids` whose sessions changed. Receivers run in
the writer's process, after its commit: they must be quick and must not raise.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.dispatch import Signal

traffic_changed = Signal()


def traffic_changed_on_commit(*, team_id: int, chatbot_ids: Iterable[int]) -> None:
    """Send `traffic_changed` when the current transaction commits."""
    ids = frozenset(chatbot_ids)
    if not ids:
        return
    send = partial(traffic_changed.send, sender=None, team_id=team_id, chatbot_ids=ids)
    # Robust: a receiver that fails is logged, and the write it follows has committed anyway.
    transaction.on_commit(send, robust=True)
