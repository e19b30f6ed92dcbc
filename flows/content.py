"""Loads the words the bot says from YAML files beside this module, once per process."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str) -> dict[str, Any]:
    """Returns the parsed content file `flows/content/<name>.yaml`."""
    text = resources.files("flows").joinpath("content", f"{name}.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"flows/content/{name}.yaml must hold a mapping at its top level")
    return data


def text(name: str, path: str, /, **values: object) -> str:
    """A message from `flows/content/<name>.yaml` by dotted path, filled in with `values`."""
    node: Any = load(name)
    for part in path.split("."):
        node = node[part]
    return str(node).format(**values) if values else str(node)
