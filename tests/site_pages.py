"""What the site's tests share: the six answer pages, and the build hooks loaded as modules."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]

ANSWER_PAGES = [
    "answers/cqrs-concepts.md",
    "answers/architecture.md",
    "answers/crud-vs-cqrs.md",
    "answers/event-sourcing.md",
    "answers/order-1001-events.md",
    "answers/when-to-use.md",
]
"""The exercise's six answers, in its order."""


def load_hook(name: str) -> ModuleType:
    """The MkDocs hook `hooks/NAME.py` as a module (hooks are not a package)."""
    path = REPO_ROOT / "hooks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"hooks_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
