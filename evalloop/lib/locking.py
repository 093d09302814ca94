"""Row locks for updates that may race a delete."""

from __future__ import annotations

from typing import TypeVar

from django.db import models
from django.http import Http404

M = TypeVar("M", bound=models.Model)


def lock_or_404(obj: M) -> M:
    """Lock `obj`'s row until the transaction ends; a row deleted meanwhile is a 404.

    An update read the object earlier, in another query; if a concurrent request deleted it
    since, saving would fail (or, without `update_fields`, insert it again). Locking first
    also makes a concurrent delete wait for this transaction. Call inside `atomic()`.
    """
    locked = type(obj)._default_manager.select_for_update().filter(pk=obj.pk).first()
    if locked is None:
        raise Http404(f"This {obj._meta.verbose_name} no longer exists.")
    return locked
