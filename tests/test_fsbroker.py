"""The embedded broker under concurrency: every message once, whole; no binding lost."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from kombu import Connection, Exchange, Queue

from evalloop.lib import fsbroker

PRODUCERS, CONSUMERS, EACH = 4, 3, 60


def connect(folder):  # type: ignore[no-untyped-def]
    return Connection(transport=fsbroker.Transport, transport_options=fsbroker.options(folder))


def produce(folder, producer: int) -> None:
    with connect(folder) as conn, conn.SimpleQueue("jobs") as queue:
        for n in range(EACH):
            queue.put({"producer": producer, "n": n, "padding": "x" * 2000})


def consume(folder, received: list[tuple[int, int]], done: threading.Event) -> None:
    with connect(folder) as conn, conn.SimpleQueue("jobs") as queue:
        while not done.is_set():
            try:
                message = queue.get(timeout=0.2)
            except queue.Empty:
                continue
            received.append((message.payload["producer"], message.payload["n"]))
            message.ack()
            if len(received) >= PRODUCERS * EACH:
                done.set()


def test_concurrent_producers_and_consumers_see_every_message_exactly_once(tmp_path):
    received: list[tuple[int, int]] = []
    done = threading.Event()
    with ThreadPoolExecutor(PRODUCERS + CONSUMERS) as pool:
        consumers = [pool.submit(consume, tmp_path, received, done) for _ in range(CONSUMERS)]
        producers = [pool.submit(produce, tmp_path, p) for p in range(PRODUCERS)]
        for future in producers:
            future.result()
        done.wait(timeout=20)
        done.set()
        for future in consumers:
            future.result()
    assert sorted(received) == [(p, n) for p in range(PRODUCERS) for n in range(EACH)]
    assert list((tmp_path / "queue").iterdir()) == []
    assert list((tmp_path / "claimed").iterdir()) == []


def test_a_fanout_message_reaches_every_queue_bound_at_the_same_time(tmp_path):
    exchange = Exchange("broadcast", type="fanout")

    def bind(n: int) -> None:
        with connect(tmp_path) as conn:
            Queue(f"listener-{n}", exchange)(conn.default_channel).declare()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(bind, range(16)))
    with connect(tmp_path) as conn:
        conn.Producer().publish({"hello": "all"}, exchange=exchange, declare=[exchange])
        channel = conn.default_channel
        assert all(channel._size(f"listener-{n}") == 1 for n in range(16))
