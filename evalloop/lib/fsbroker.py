"""kombu's file-system transport, made safe for several processes on one machine.

The stock transport creates a message file and then writes into it, and claims a message by
moving it to the temporary directory; a consumer polling at the wrong moment reads an empty
file (the worker dies on a JSON error), and two consumers can both copy one message when the
temporary directory is another file system. Exchange tables have the same half-written
window. Here every file appears whole (written aside, then renamed into place), a message is
claimed by an atomic rename inside the data dir, and a table is rewritten under a lock.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any, ClassVar

from kombu.transport import filesystem, virtual
from kombu.transport.filesystem import exchange_queue_t
from kombu.utils.json import dumps, loads

FOLDERS = ("queue", "claimed", "control")
# kombu marks a binding as declared in memory before it writes the table; a thread of the same
# process that sees the mark must not publish until the table holds the binding.
_BINDING = threading.Lock()


def options(folder: Path) -> dict[str, Any]:
    """Answer the transport options for a broker living in `folder`, creating its folders."""
    for name in FOLDERS:
        (folder / name).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "claimed"),
        "control_folder": str(folder / "control"),
        "polling_interval": 0.5,
    }


def _write_whole(path: Path, data: bytes) -> None:
    draft = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    draft.write_bytes(data)
    draft.replace(path)


def _read_table(raw: bytes) -> list[exchange_queue_t]:
    return [exchange_queue_t(*entry) for entry in loads(raw)] if raw else []


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        # Zero-padded so that names sort in publication order.
        name = f"{time.monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        _write_whole(Path(self.data_folder_out) / name, dumps(payload).encode())

    def _get(self, queue: str) -> Any:  # type: ignore[override]
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = Path(self.processed_folder) / name
            try:
                # rename is atomic on one file system: exactly one consumer wins the message.
                os.rename(Path(self.data_folder_in) / name, claimed)
            except FileNotFoundError:
                continue
            payload = claimed.read_bytes()
            claimed.unlink()
            return loads(payload)
        raise Empty()

    def get_table(self, exchange: str) -> list[exchange_queue_t]:  # type: ignore[override]
        try:
            return _read_table(self._exchange_file(exchange).read_bytes())  # type: ignore[attr-defined]
        except FileNotFoundError:
            return []

    def _update_table(self, exchange: str, change: Any) -> None:
        self.control_folder.mkdir(exist_ok=True)
        file = self._exchange_file(exchange)  # type: ignore[attr-defined]
        # A separate lock file: the table itself is replaced, never edited in place.
        with open(file.with_name(f"{file.name}.lock"), "ab") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)  # released when the file closes
            try:
                table = _read_table(file.read_bytes())
            except FileNotFoundError:
                table = []
            _write_whole(file, dumps(change(table)).encode())

    def queue_bind(self, *args: Any, **kwargs: Any) -> Any:
        with _BINDING:
            return super().queue_bind(*args, **kwargs)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str | None, queue: str) -> None:
        entry = exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: table if entry in table else [entry, *table])

    def _delete(
        self, queue: str, exchange: str, routing_key: str, pattern: str, *args: Any, **kwargs: Any
    ) -> None:
        virtual.Channel._delete(self, queue)
        entry = exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda table: [e for e in table if e != entry])


class Transport(filesystem.Transport):
    Channel = Channel
    # The stock transport keeps one view of declared bindings for the whole process; a
    # second broker folder in the same process would then miss bindings it never wrote.
    states: ClassVar[dict[str, virtual.BrokerState]] = {}

    def __init__(self, client: Any, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        folder = str(client.transport_options.get("control_folder", "control"))
        self.state = self.states.setdefault(folder, virtual.BrokerState())
