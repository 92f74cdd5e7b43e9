"""The user's UI configuration: remapped keys and saved connection profiles.

Lives in `platformdirs.user_config_dir("xentui")/config.toml`:

    [keys]
    "app.quit" = "q,ctrl+q"          # binding id = comma separated Textual key names
    "dashboard.recover" = "r,f2"

    [[profiles]]
    name = "lab pool"
    target = "ssh:root@127.0.0.12"   # anything `xentui TARGET` accepts

A broken file never stops the console from starting: what is wrong (bad
bytes, bad TOML, an unknown action id or key name, two actions on one key) is
kept in `UiConfig.problems`, shown on screen and on stderr, and the defaults
are used for it.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

from xentui.ui.actions import ACTIONS, SCOPES, action_by_id, display_key, effective_keys, unknown_keymap_ids
from xentui.xapi.safe_text import printable


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
    """The configuration, never an exception: whatever is wrong in the file
    is named in `problems` and the defaults are used for it."""
    config = _load(default_config_path() if path is None else path, explicit=path is not None)
    # Problems quote the file (key names, its path): shown on the terminal, so escaped.
    return replace(config, problems=tuple(printable(p) for p in config.problems))


def _load(path: Path, explicit: bool) -> UiConfig:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        # No config.toml in the usual place is normal; a --config FILE that is not there is a typo.
        return UiConfig(path=path, problems=(f"{path}: no such file; using the defaults",) if explicit else ())
    except OSError as exc:
        return UiConfig(path=path, problems=(f"{path}: cannot read: {exc.strerror or exc}; using the defaults",))
    if not stat.S_ISREG(st.st_mode):
        # Reading a FIFO would block the start-up; a directory cannot be read.
        return UiConfig(path=path, problems=(f"{path}: not a regular file; using the defaults",))
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return UiConfig(path=path, problems=(f"{path}: cannot read: {exc.strerror or exc}; using the defaults",))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return UiConfig(path=path, problems=(f"{path}: line {line}: damaged bytes (not UTF-8); using the defaults",))
    try:
        data = _parse_toml(text)
    except ValueError as exc:
        return UiConfig(path=path, problems=(f"{path}: not valid TOML: {_one_line(str(exc))}; using the defaults",))
    return _from_data(path, data)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _from_data(path: Path, data: Dict[str, Any]) -> UiConfig:
    problems: List[str] = []
    for name in data:
        if name not in _TOP_LEVEL:
            problems.append(f"{path}: unknown setting {name!r} ignored (known: {', '.join(_TOP_LEVEL)})")
    keys: Dict[str, str] = {}
    raw_keys = data.get("keys", {})
    if not isinstance(raw_keys, dict):
        problems.append('[keys] must be a table of "action.id" = "keys"; using the default keys')
        raw_keys = {}
    for key_id, keys_text in raw_keys.items():
        key_id = str(key_id)
        if not isinstance(keys_text, str) or not keys_text.strip():
            problems.append(f'[keys] {key_id}: expected a string like "q,ctrl+q"; using the default')
            continue
        if key_id not in _KNOWN_IDS:
            continue  # reported below, with the other unknown ids
        normalized, bad = normalize_keys(keys_text)
        if bad:
            problems.append(
                f"[keys] {key_id}: no such key {', '.join(repr(b) for b in bad)}; using the default "
                f"({action_by_id(key_id).keys})"
            )
            continue
        keys[key_id] = normalized
    for unknown in unknown_keymap_ids(str(k) for k in raw_keys):
        problems.append(f"[keys] {unknown}: no such action id (see the help screen); ignored")
    problems.extend(drop_conflicts(keys))
    profiles = []
    raw_profiles = data.get("profiles", [])
    if isinstance(raw_profiles, list):
        for item in raw_profiles:
            if isinstance(item, dict) and isinstance(item.get("target"), str):
                profiles.append(Profile(name=str(item.get("name") or item["target"]), target=item["target"]))
            else:
                problems.append('[[profiles]]: each needs at least target = "..."')
    else:
        problems.append("profiles must be written as [[profiles]] tables; none loaded")
    return UiConfig(path=path, keys=keys, profiles=tuple(profiles), problems=tuple(problems))


_TOP_LEVEL = ("keys", "profiles")
_KNOWN_IDS = frozenset(a.id for a in ACTIONS)
_MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
_FUNCTION_KEY = re.compile(r"^f([1-9]|1[0-9]|2[0-4])$")
# Key names Textual reports that are not in Keys (or are spelled differently there).
_EXTRA_NAMES = frozenset({"space", "tab", "enter", "backspace", "escape", "return", "delete", "insert"})


def _key_names() -> FrozenSet[str]:
    from textual.keys import Keys

    return frozenset(k.value.rsplit("+", 1)[-1] for k in Keys) | _EXTRA_NAMES


def normalize_key(key: str) -> Optional[str]:
    """A key as Textual names it ('?' -> 'question_mark', 'F5' -> 'f5'), or
    None if no key press could ever produce it."""
    key = key.strip()
    if not key:
        return None
    if len(key) == 1:
        return _character_name(key)
    *mods, base = key.split("+")
    mods = [m.lower() for m in mods]
    if any(m not in _MODIFIERS for m in mods) or len(set(mods)) != len(mods) or not base:
        return None
    if len(base) == 1:
        base_name = _character_name(base.lower())  # Textual names ctrl+F 'ctrl+f'; shift is a modifier
    else:
        from textual.keys import KEY_NAME_REPLACEMENTS

        base_name = KEY_NAME_REPLACEMENTS.get(base.lower(), base.lower())  # 'hyphen_minus' is pressed as 'minus'
        if not (base_name in _key_names() or _FUNCTION_KEY.match(base_name) or _is_character_name(base_name)):
            return None
    return "+".join(mods + [base_name]) if base_name else None


def _character_name(char: str) -> str:
    """Textual's name for the key that types `char` (its own rule: the
    lower-cased Unicode name, with its few replacements such as 'slash')."""
    from textual.keys import KEY_NAME_REPLACEMENTS

    if not char.isprintable():
        return ""
    if char.isalnum():
        return char
    try:
        name = unicodedata.name(char).lower().replace("-", "_").replace(" ", "_")
    except ValueError:
        return ""
    return KEY_NAME_REPLACEMENTS.get(name, name)


def _is_character_name(name: str) -> bool:
    """'question_mark', 'slash', 'circumflex_accent': a character's key name."""
    from textual.keys import REPLACED_KEYS

    name = REPLACED_KEYS.get(name, name)  # 'slash' is Unicode's 'solidus'
    for candidate in (name.replace("_", " "), name.replace("_", "-")):
        try:
            unicodedata.lookup(candidate)
        except KeyError:
            continue
        return True
    return False


def normalize_keys(text: str) -> Tuple[str, List[str]]:
    """('q,ctrl+q' normalized, [keys that do not exist])."""
    good: List[str] = []
    bad: List[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        name = normalize_key(part)
        if name is None:
            bad.append(part)
        elif name not in good:
            good.append(name)
    if not good and not bad:
        bad.append(text)
    return ",".join(good), bad


def drop_conflicts(keymap: Dict[str, str]) -> List[str]:
    """Remove from `keymap` (in place) the remaps that put two actions on one
    key where both would be live (the same screen, or a screen and
    everywhere: a screen's binding hides the global one, which is how a
    remapped key could stop `q` from quitting). Returns the problems."""
    problems: List[str] = []
    while True:
        clash = _first_clash(keymap)
        if clash is None:
            return problems
        key, first, second = clash
        remapped = [a for a in (first, second) if a in keymap]
        for action_id in remapped:
            keymap.pop(action_id)
        problems.append(
            f"[keys] {display_key(key)} is bound to both {first} and {second}; "
            f"using the default keys for {' and '.join(remapped)}"
        )


def _first_clash(keymap: Dict[str, str]) -> Optional[Tuple[str, str, str]]:
    bound: Dict[Tuple[str, str], str] = {}
    for action in ACTIONS:
        for key in effective_keys(action, keymap).split(","):
            key = key.strip()
            if not key:
                continue
            scopes = SCOPES if action.scope == "app" else (action.scope,)
            for scope in scopes:
                other = bound.get((scope, key))
                if other is not None and other != action.id and (other in keymap or action.id in keymap):
                    return key, other, action.id
                bound.setdefault((scope, key), action.id)
    return None


def _parse_toml(text: str) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(str(exc)) from exc
    return parse_small_toml(text)


def parse_small_toml(text: str) -> Dict[str, Any]:
    """The subset of TOML this file uses, for Python 3.9/3.10 without tomli:
    `[table]`, `[[array-of-tables]]`, `key = "string"` / `"quoted.key" = "string"`,
    comments. Anything else raises ValueError with the line number."""
    data: Dict[str, Any] = {}
    current: Dict[str, Any] = data
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
