"""The demo's login file in the data dir: the e-mail, password and API key to print again.

Passwords and keys are stored hashed, so their plaintexts are kept here, readable by the
file's owner only. No Django: the traffic simulator reads its key from here too.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

LOGIN_FILE = "demo-login.json"


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    api_key: str


def login_path(data_dir: Path) -> Path:
    return data_dir / LOGIN_FILE


def read_login(path: Path) -> Login | None:
    """The saved login, or None when there is none (or it is not one)."""
    try:
        saved = json.loads(path.read_text())
        return Login(email=saved["email"], password=saved["password"], api_key=saved["api_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_login(path: Path, login: Login) -> None:
    """Replace the file, readable by its owner only from its first byte."""
    scratch = path.with_suffix(".tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a scratch file left by a crash keeps its mode through O_TRUNC
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(login), out, indent=2)
    os.replace(scratch, path)
