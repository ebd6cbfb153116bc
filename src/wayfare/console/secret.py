"""The key the console signs its session cookies with: ``console_secret`` from the settings,
or one generated once per data directory (so every HTTP process of a server shares it)."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from wayfare.config import CONSOLE_SECRET_FILE, Settings


def console_secret(settings: Settings) -> str:
    """The settings' secret; else the data directory's, written on first use (readable by
    its owner only). Servers of a scale-out deployment behind one address need the setting:
    each data directory has a secret of its own."""
    if settings.console_secret:
        return settings.console_secret
    path = Path(settings.data_dir) / CONSOLE_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = path.with_name(f".{CONSOLE_SECRET_FILE}.{os.getpid()}")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32))
        with contextlib.suppress(FileExistsError):  # another process wrote it first: theirs
            os.link(fresh, path)
        fresh.unlink()
    return path.read_text().strip()
