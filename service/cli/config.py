"""Where the CLI keeps its server URL and token: $XDG_CONFIG_HOME/dbvend/config.json (via
platformdirs), the directory 0700 and the file 0600 from the moment it exists."""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

from .errors import CliError

APP = "dbvend"


def config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.json"


@dataclass
class StoredConfig:
    url: str | None = None
    username: str | None = None
    token: str | None = None
    expires_at: str | None = None


class ConfigProblem(CliError):
    """The config file cannot be read or written; the message says why."""


def load(path: Path | None = None) -> tuple[StoredConfig, str | None]:
    """The stored config (empty when there is none) and a warning to show, if any."""
    path = path or config_path()
    try:
        mode = path.stat().st_mode
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return StoredConfig(), None
    except OSError as exc:
        raise ConfigProblem(f"cannot read {path}: {exc.strerror}") from None
    warning = None
    if stat.S_IMODE(mode) & 0o077:
        # Someone widened it: close it again, and say the token may have been read.
        path.chmod(0o600)
        warning = (
            f"{path} was readable by other users; it is 0600 again. The token in it may have"
            " been read: `dbvend logout` and `dbvend login` give a new one."
        )
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigProblem(f"{path} is not valid JSON; remove it and log in again") from None
    if not isinstance(data, dict):
        raise ConfigProblem(f"{path} is not a JSON object; remove it and log in again")
    fields = {k: v for k, v in data.items() if k in StoredConfig.__dataclass_fields__ and isinstance(v, str)}
    return StoredConfig(**fields), warning


def save(config: StoredConfig, path: Path | None = None) -> Path:
    """Written to a new 0600 file beside the old one, then renamed over it: never readable by
    others, never half-written."""
    path = path or config_path()
    _private_dir(path.parent)
    body = json.dumps({k: v for k, v in asdict(config).items() if v is not None}, indent=2) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise ConfigProblem(f"cannot write {path}: {exc.strerror}") from None
    return path


def _private_dir(directory: Path) -> None:
    try:
        directory.parent.mkdir(parents=True, exist_ok=True)
        # mkdir's mode is narrowed by the umask, never widened: 0700 at creation.
        directory.mkdir(mode=0o700, exist_ok=True)
        if stat.S_IMODE(directory.stat().st_mode) != 0o700:
            directory.chmod(0o700)
    except OSError as exc:
        raise ConfigProblem(f"cannot create {directory}: {exc.strerror}") from None
