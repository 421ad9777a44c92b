"""The operator's connection profile: ``config.toml`` in the data dir (no secrets).

Everything else of the settings lives in the database (features.md, "Defaults");
this file only says which PBX and extension to connect to, so that ``phonet-agent``
and ``phonet-agent dial`` can start from it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from urllib.parse import urlsplit

from agent.core.errors import ConfigError, InvalidInput


@dataclass(frozen=True, slots=True)
class Profile:
    domain: str = ""
    ext: str = ""
    login: str = ""
    base_url: str = ""  # empty: https://{domain}
    ca_file: str = ""
    db: str = ""  # empty: SQLite in the data dir

    @property
    def configured(self) -> bool:
        return bool(self.domain and self.ext)

    def merged(self, **overrides: str | None) -> Profile:
        """This profile with the command line's options on top (None = not given)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "domain" in given:
            given["domain"] = host_of(given["domain"])
        return replace(self, **given)

    def check(self) -> Profile:
        if not self.domain:
            raise InvalidInput("the Phonet domain is missing", field="domain")
        if not HOST_NAME.fullmatch(self.domain):
            raise InvalidInput(
                f"the Phonet domain {self.domain!r} is not a host name: "
                "give it as company.phonet.com.ua",
                field="domain",
            )
        if not self.ext or not self.ext.isdigit():
            raise InvalidInput("the extension must be digits, e.g. 001", field="ext")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise InvalidInput("the base URL must start with http:// or https://", field="base_url")
        return self


# A host name as the PBX's address takes it: dot-separated letters, digits and hyphens
# (IDN labels as punycode), an optional port.
HOST_NAME = re.compile(
    r"(?=.{1,253}(:|$))[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::[0-9]{1,5})?",
    re.IGNORECASE,
)


def host_of(domain: str) -> str:
    """The host an operator meant: ``https://Company.phonet.com.ua/`` copied from the
    browser's address bar is ``company.phonet.com.ua``; a Cyrillic name becomes punycode.
    Anything else is left for :meth:`Profile.check` to refuse."""
    text = domain.strip()
    if "://" in text:
        text = urlsplit(text).netloc
    text = text.split("/", 1)[0].rstrip(".").lower()
    if text and not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            return text
    return text


def load_profile(path: Path) -> Profile:
    if not path.exists():
        return Profile()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read: {exc}") from exc
    section = data.get("connection", {})
    known = {f.name for f in fields(Profile)}
    return Profile(**{k: str(v) for k, v in section.items() if k in known})


def save_profile(path: Path, profile: Profile) -> None:
    """Written atomically; TOML basic strings share JSON's escapes for this content."""
    lines = ["# Phonet Agent connection profile. No secrets here: they live in the OS keyring."]
    lines.append("[connection]")
    for key, value in asdict(profile).items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    write_atomically(path, "\n".join(lines) + "\n")


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        Path(tmp).chmod(mode)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
