"""The user's UI configuration: remapped keys and saved connection profiles.

Lives in `platformdirs.user_config_dir("xentui")/config.toml`:

    [keys]
    "app.quit" = "q,ctrl+q"          # binding id = comma separated Textual key names
    "dashboard.recover" = "r,f2"

    [[profiles]]
    name = "lab pool"
    target = "ssh:root@127.0.0.12"   # anything `xentui TARGET` accepts

A broken file never stops the console from starting: the error is kept in
`UiConfig.problems` and shown in the log screen.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional, Tuple

from xentui.ui.actions import unknown_keymap_ids


@dataclass(frozen=True)
class Profile:
    name: str
    target: str


@dataclass(frozen=True)
class UiConfig:
    path: Optional[Path] = None
    keys: Dict[str, str] = field(default_factory=dict)
    profiles: Tuple[Profile, ...] = ()
    problems: Tuple[str, ...] = ()


def default_config_path() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir("xentui")) / "config.toml"


def load_config(path: Optional[Path] = None) -> UiConfig:
    path = default_config_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return UiConfig(path=path)
    except OSError as exc:
        return UiConfig(path=path, problems=(f"{path}: cannot read: {exc}",))
    try:
        data = _parse_toml(text)
    except ValueError as exc:
        return UiConfig(path=path, problems=(f"{path}: not valid TOML: {exc}",))
    return _from_data(path, data)


def _from_data(path: Path, data: dict) -> UiConfig:
    problems = []
    keys: Dict[str, str] = {}
    raw_keys = data.get("keys", {})
    if isinstance(raw_keys, dict):
        for key_id, keys_text in raw_keys.items():
            if isinstance(keys_text, str) and keys_text.strip():
                keys[str(key_id)] = keys_text.replace(" ", "")
            else:
                problems.append(f"[keys] {key_id}: expected a string like \"q,ctrl+q\"")
    for unknown in unknown_keymap_ids(keys):
        problems.append(f"[keys] {unknown}: no such action id (see the help screen)")
        keys.pop(unknown)
    profiles = []
    raw_profiles = data.get("profiles", [])
    if isinstance(raw_profiles, list):
        for item in raw_profiles:
            if isinstance(item, dict) and isinstance(item.get("target"), str):
                profiles.append(Profile(name=str(item.get("name") or item["target"]), target=item["target"]))
            else:
                problems.append("[[profiles]]: each needs at least target = \"...\"")
    return UiConfig(path=path, keys=keys, profiles=tuple(profiles), problems=tuple(problems))


def _parse_toml(text: str) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(str(exc)) from exc
    return parse_small_toml(text)


def parse_small_toml(text: str) -> dict:
    """The subset of TOML this file uses, for Python 3.9/3.10 without tomli:
    `[table]`, `[[array-of-tables]]`, `key = "string"` / `"quoted.key" = "string"`,
    comments. Anything else raises ValueError with the line number."""
    data: dict = {}
    current: dict = data
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        if line.startswith("[[") and line.endswith("]]"):
            name = line[2:-2].strip()
            current = {}
            data.setdefault(name, []).append(current)
        elif line.startswith("[") and line.endswith("]"):
            name = line[1:-1].strip()
            current = data.setdefault(name, {})
        elif "=" in line:
            key, _, value = line.partition("=")
            current[_unquote(key.strip(), number)] = _unquote(value.strip(), number)
        else:
            raise ValueError(f"line {number}: cannot parse {raw!r}")
    return data


def _strip_comment(line: str) -> str:
    in_string = False
    for index, char in enumerate(line):
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return line[:index]
    return line


def _unquote(token: str, number: int) -> str:
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "\"'":
        return token[1:-1]
    if token and all(c.isalnum() or c in "-_." for c in token):
        return token
    raise ValueError(f"line {number}: expected a quoted string, got {token!r}")
