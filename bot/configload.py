"""From the file's text to a mapping, and from a validation error to a `ConfigError` that names
the place: the file, the field (node indexes shown as node names) and the node.

bot/config.py's `parse_config` and `load_config` read the file with these; check-config
(bot/policycheck.py) uses them too, to list every problem of a file that does not load.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from bot.configerror import ConfigError, error_code

__all__ = ["UniqueKeyLoader", "config_error", "field_path", "knock_on", "read_mapping"]


class UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key written twice in one mapping (YAML keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            line = key_node.start_mark.line + 1
            raise ConfigError(
                "duplicate_key", f"key {key!r} is written twice in one mapping (line {line})"
            )
        seen.add(key)
    return loader.construct_mapping(node)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_mapping(text: str, source: str) -> dict[str, Any]:
    """The YAML text as a mapping; not YAML, a key written twice or not a mapping is refused."""
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except ConfigError as exc:
        exc.file = source
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError("yaml", f"not valid YAML{where}", file=source) from None
    if not isinstance(data, dict):
        raise ConfigError("invalid", "the file must be a YAML mapping", file=source)
    return data


def config_error(exc: ValidationError, data: dict[str, Any], source: str) -> ConfigError:
    """The first problem as a ConfigError; the rest are counted (never echoes input values)."""
    errors = exc.errors(include_input=False, include_url=False)
    locs = [tuple(err["loc"]) for err in errors]
    first = errors[0]
    # Not counted: the same message again (one missing secret shared by several nodes) and
    # knock-on errors of a parent (a node refused leaves its list too short).
    others = {
        err["msg"]
        for err, loc in zip(errors, locs, strict=True)
        if err["msg"] != first["msg"] and not knock_on(loc, locs)
    }
    ctx = first.get("ctx") or {}
    loc = list(first["loc"])
    node = ctx.get("node") or _node_at(data, loc)
    field = ctx.get("field") or field_path(data, loc)
    code = error_code(first["type"])
    message = first["msg"]
    if others:
        message += f" (and {len(others)} more problem{'s' if len(others) > 1 else ''})"
    return ConfigError(code, message, file=source, field=field or None, node=node)


def knock_on(loc: tuple[Any, ...], locs: list[tuple[Any, ...]]) -> bool:
    """A parent's error caused by a problem inside it (a node refused leaves its list too
    short): another error's location lies under ``loc``."""
    return any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs)


def _node_at(data: dict[str, Any], loc: list[Any]) -> str | None:
    """The name of the node a location points into, if it does."""
    try:
        i = loc.index("nodes")
        node = data["environments"][loc[i - 1]]["nodes"][loc[i + 1]]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    name = node.get("name") if isinstance(node, dict) else None
    return name if isinstance(name, str) else None


def field_path(data: dict[str, Any], loc: list[Any]) -> str:
    """Dotted path with node indexes shown as node names (`nodes.test-1.rpc_url`)."""
    parts = [str(p) for p in loc]
    name = _node_at(data, loc)
    if name is not None:
        i = loc.index("nodes")
        parts[i + 1] = name
    return ".".join(parts)
