"""Stripe's request encoding: form fields with bracketed keys (`line_items[0][price_data][currency]=usd`,
`expand[0]=setup_intent`, `expand[]=x`) decoded into nested dicts and lists."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KEY_PART = re.compile(r"\[([^\]]*)\]")


class FormError(ValueError):
    """A parameter name that is not valid Stripe form encoding."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def _split(key: str) -> list[str]:
    head, bracket, rest = key.partition("[")
    if not head:
        raise FormError(f"Invalid parameter name: {key}", key)
    parts = [head]
    if bracket:
        tail = "[" + rest
        found = _KEY_PART.findall(tail)
        if "".join(f"[{p}]" for p in found) != tail:
            raise FormError(f"Invalid parameter name: {key}", key)
        parts.extend(found)
    return parts


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _listify(v) for k, v in node.items()}
        if converted and all(k.isdigit() or k == "" for k in converted):
            if "" in converted:
                return converted[""]
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


def decode(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest form pairs by their bracketed key parts; numeric keys become lists in index order."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = _split(key)
        node = root
        for index, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict):
                raise FormError(f"Invalid parameter name: {key}", key)
            node = child
            if parts[index + 1] == "":  # `expand[]=a&expand[]=b`: append in order
                bucket = node.setdefault("", [])
                bucket.append(value)
                break
        else:
            node[parts[-1]] = value
    return _listify(root)


def flag(value: Any) -> bool:
    """Stripe booleans arrive as "true"/"false" strings."""
    return str(value).lower() == "true"
