"""Run a few long-lived processes together; when one ends, or on a signal, stop them all."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL_SECONDS = 0.1
# `uv run` passes a terminal's Ctrl-C on to its child, which already got it from the
# terminal: signals this close together are one press, not a request to kill.
SAME_PRESS_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def _say(line: str) -> None:
    print(f"evalloop: {line}", file=sys.stderr, flush=True)


def _ending(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _die_with(parent: int) -> Callable[[], None]:
    """Answer a pre-exec hook that has Linux end the child if the supervisor dies unannounced."""

    def hook() -> None:
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the supervisor died before the request took effect
            os._exit(1)

    return hook


class Supervisor:
    """Starts named commands; stops every one when any exits or a stop signal arrives.

    Each child runs in its own process group, so a Ctrl-C in the terminal reaches only the
    supervisor, which then sends each child exactly one SIGTERM. A second signal while
    stopping (a second press, not the echo of the first) kills whatever is left; so does the
    end of the grace period.
    """

    def __init__(
        self,
        commands: Mapping[str, Sequence[str]],
        *,
        grace_seconds: float = 30.0,
        say: Callable[[str], None] = _say,
    ) -> None:
        self.commands = dict(commands)
        self.grace_seconds = grace_seconds
        self.say = say
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.signals: list[float] = []  # when each stop signal arrived

    def run(self) -> int:
        """Answer 0 after a requested stop, 1 when a child ended on its own or failed to start."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in STOP_SIGNALS}
        try:
            ended = self._start_all() or self._wait_for_an_end()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0 if ended is None else 1

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(time.monotonic())

    def _pressed_again(self) -> bool:
        return bool(self.signals) and self.signals[-1] - self.signals[0] > SAME_PRESS_SECONDS

    def _start_all(self) -> str | None:
        hook = _die_with(os.getpid()) if sys.platform == "linux" else None
        for name, argv in self.commands.items():
            try:
                self.children[name] = subprocess.Popen(argv, process_group=0, preexec_fn=hook)
            except OSError as exc:
                self.say(f"cannot start {name} ({exc.strerror}); stopping the others.")
                return name
        return None

    def _wait_for_an_end(self) -> str | None:
        """Answer the name of the first child to exit, or None when a stop signal came first."""
        while not self.signals:
            for name, child in self.children.items():
                code = child.poll()
                if code is not None:
                    self.say(f"{name} {_ending(code)}; stopping the others.")
                    return name
            time.sleep(POLL_SECONDS)
        self.say(f"stopping {', '.join(self.children)} (press Ctrl-C again to kill them).")
        return None

    def _running(self) -> dict[str, subprocess.Popen[bytes]]:
        return {name: child for name, child in self.children.items() if child.poll() is None}

    def _stop_all(self) -> None:
        for child in self._running().values():
            child.terminate()
        deadline = time.monotonic() + self.grace_seconds
        while self._running():
            if self._pressed_again() or time.monotonic() > deadline:
                for name in self._running():
                    self.say(f"{name} did not stop; killing it.")
                break
            time.sleep(POLL_SECONDS)
        for name, child in self.children.items():
            self._kill_group(name, child)

    def _kill_group(self, name: str, child: subprocess.Popen[bytes]) -> None:
        """Kill what is left of the child's process group: itself or processes it orphaned."""
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        finally:
            child.wait()
        if child.returncode != -signal.SIGKILL:
            self.say(f"killed processes {name} left behind.")
