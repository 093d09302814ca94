"""Frames between the pool and a sandbox process: a 4-byte big-endian length, then JSON."""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")
# The largest frame either side accepts: a request carries a chunk of rows, an answer one
# output (capped far lower, see child.MAX_OUTPUT_BYTES); anything larger is a broken peer.
MAX_FRAME_BYTES = 256 * 1024 * 1024


class ProtocolError(Exception):
    """The peer sent something that is not a frame."""


class FrameTimeout(Exception):
    """No whole frame arrived before the deadline."""


def encode(message: Any) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return HEADER.pack(len(body)) + body


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_blocking(stream: BinaryIO) -> Any | None:
    """The next frame from a blocking stream; None at the end of the stream."""
    header = stream.read(HEADER.size)
    if not header:
        return None
    if len(header) < HEADER.size:
        raise ProtocolError("truncated frame header")
    (size,) = HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(f"a frame of {size} bytes")
    body = stream.read(size)
    if len(body) < size:
        raise ProtocolError("truncated frame")
    return json.loads(body)


class FrameReader:
    """Reads frames from a pipe, waiting no longer than a deadline for each."""

    def __init__(self, fd: int, max_bytes: int = MAX_FRAME_BYTES) -> None:
        self.fd = fd
        self.max_bytes = max_bytes
        self.buffer = bytearray()
        self.poller = select.poll()
        self.poller.register(fd, select.POLLIN)

    def read(self, deadline: float) -> Any | None:
        """The next frame; None when the peer closed the pipe; FrameTimeout past `deadline`."""
        while (body := self._take()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise FrameTimeout
            if not self.poller.poll(remaining * 1000):
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk
        return json.loads(body)

    def _take(self) -> bytes | None:
        if len(self.buffer) < HEADER.size:
            return None
        (size,) = HEADER.unpack_from(self.buffer)
        if size > self.max_bytes:
            raise ProtocolError(f"a frame of {size} bytes")
        end = HEADER.size + size
        if len(self.buffer) < end:
            return None
        body = bytes(self.buffer[HEADER.size : end])
        del self.buffer[:end]
        return body
