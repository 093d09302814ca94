"""The supervisor behind `evalloop up`: all children stop together, whatever happens."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from evalloop.lib.supervisor import Supervisor
from tests.processes import gone, wait_until

SLEEP = ["sleep", "60"]


def supervise(commands, *, signal_after: tuple[float, ...] = (), grace: float = 5.0):
    said: list[str] = []
    supervisor = Supervisor(commands, grace_seconds=grace, say=said.append)
    for delay in signal_after:
        threading.Timer(delay, os.kill, (os.getpid(), signal.SIGINT)).start()
    code = supervisor.run()
    return code, supervisor, said


def test_a_stop_signal_stops_every_child_and_answers_zero():
    code, supervisor, said = supervise({"a": SLEEP, "b": SLEEP}, signal_after=(0.3,))
    assert code == 0
    assert all(child.returncode == -signal.SIGTERM for child in supervisor.children.values())
    assert said == ["stopping a, b (press Ctrl-C again to kill them)."]


def test_when_one_child_exits_the_others_stop_and_it_answers_non_zero():
    code, supervisor, said = supervise({"web": SLEEP, "worker": ["sh", "-c", "exit 3"]})
    assert code == 1
    assert said == ["worker exited with code 3; stopping the others."]
    assert supervisor.children["web"].returncode == -signal.SIGTERM


STUBBORN = [sys.executable, "-c", "import signal, time; signal.signal(15, 1); time.sleep(60)"]


def test_a_signal_passed_on_by_a_wrapper_is_not_a_second_press():
    code, supervisor, said = supervise({"a": SLEEP}, signal_after=(0.3, 0.4))
    assert code == 0
    assert supervisor.children["a"].returncode == -signal.SIGTERM
    assert len(said) == 1


def test_pressing_ctrl_c_again_kills_what_is_still_stopping():
    started = time.monotonic()
    code, supervisor, said = supervise({"stubborn": STUBBORN}, signal_after=(0.3, 1.8), grace=30)
    assert code == 0
    assert supervisor.children["stubborn"].returncode == -signal.SIGKILL
    assert "stubborn did not stop; killing it." in said
    assert time.monotonic() - started < 10


def test_it_says_which_signal_killed_a_child():
    code, _, said = supervise({"web": SLEEP, "beat": ["sh", "-c", "kill -9 $$"]})
    assert code == 1
    assert said == ["beat was killed by SIGKILL; stopping the others."]


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period():
    started = time.monotonic()
    code, supervisor, said = supervise({"stubborn": STUBBORN}, signal_after=(0.5,), grace=0.5)
    assert code == 0
    assert supervisor.children["stubborn"].returncode == -signal.SIGKILL
    assert "stubborn did not stop; killing it." in said
    assert time.monotonic() - started < 5


def test_processes_a_child_leaves_behind_are_killed_too(tmp_path):
    pid_file = tmp_path / "orphan.pid"
    parent = ["sh", "-c", f"sleep 60 & echo $! > {pid_file}; wait"]
    code, _, said = supervise({"parent": parent}, signal_after=(0.5,))
    assert code == 0
    orphan = int(pid_file.read_text())
    assert wait_until(lambda: gone(orphan), timeout=5)
    assert "killed processes parent left behind." in said


def test_a_command_that_cannot_start_stops_the_others():
    code, supervisor, said = supervise({"web": SLEEP, "worker": ["/nonexistent/evalloop"]})
    assert code == 1
    assert said[0].startswith("cannot start worker (No such file or directory)")
    assert supervisor.children["web"].returncode == -signal.SIGTERM


def test_it_restores_the_signal_handlers_it_replaced():
    before = signal.getsignal(signal.SIGINT)
    supervise({"quick": ["true"]})
    assert signal.getsignal(signal.SIGINT) is before
