"""Where the CLI's client connects: flags, environment, or a named profile in a TOML file.

    --url / $TASKLOOM_URL, --api-key / $TASKLOOM_API_KEY      win when given
    --profile NAME / $TASKLOOM_PROFILE, else the file's `current` profile
    http://127.0.0.1:8000 with no key                          otherwise

The file is `--config` / `$TASKLOOM_CONFIG`, else ~/.config/taskloom/config.toml:

    current = "local"
    [profiles.local]
    url = "http://127.0.0.1:8000"
    api_key = "tlk_..."
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from taskloom.client import Client

DEFAULT_URL = "http://127.0.0.1:8000"


class ConfigError(Exception):
    """The config file cannot be read, or names a profile it does not hold."""


def default_config_path() -> Path:
    return Path.home() / ".config" / "taskloom" / "config.toml"


@dataclass(frozen=True, slots=True)
class Profile:
    url: str
    api_key: str | None = None


@dataclass
class ConfigFile:
    path: Path
    current: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ConfigFile:
        if not path.exists():
            return cls(path)
        try:
            data = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        profiles = {}
        for name, values in data.get("profiles", {}).items():
            if not isinstance(values, dict) or not isinstance(values.get("url"), str):
                raise ConfigError(f"{path}: profile {name!r} needs a url")
            profiles[name] = Profile(url=values["url"], api_key=values.get("api_key"))
        current = data.get("current")
        return cls(path, current if isinstance(current, str) else None, profiles)

    def save(self) -> None:
        lines = []
        if self.current is not None:
            lines.append(f"current = {_toml_str(self.current)}")
        for name, profile in self.profiles.items():
            lines += ["", f"[profiles.{_toml_str(name)}]", f"url = {_toml_str(profile.url)}"]
            if profile.api_key:
                lines.append(f"api_key = {_toml_str(profile.api_key)}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the file holds API keys: readable by its owner only, from its first byte
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(lines) + "\n")

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise ConfigError(f"no profile {name!r} in {self.path}") from None


def _toml_str(value: str) -> str:
    # a JSON string is a valid TOML basic string (same escapes)
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class ConnectionOptions:
    """The root command's options, resolved only when a command needs the server."""

    url: str | None
    api_key: str | None
    profile: str | None
    config_path: Path

    def resolve(self) -> Profile:
        config = ConfigFile.load(self.config_path)
        name = self.profile or config.current
        if self.profile is not None or (name is not None and name in config.profiles):
            chosen = config.profile(name) if name is not None else Profile(DEFAULT_URL)
        else:
            chosen = Profile(DEFAULT_URL)
        return Profile(
            url=self.url or chosen.url,
            api_key=self.api_key if self.api_key is not None else chosen.api_key,
        )

    def client(self) -> Client:
        resolved = self.resolve()
        return Client(resolved.url, resolved.api_key)
