"""Every hook is documented in docs/hooks.md."""
import inspect
import re
from pathlib import Path

from kernel import hookspecs

DOC = Path(__file__).resolve().parents[2] / "docs" / "hooks.md"


def hook_names():
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "juniper_spec")]


def test_every_hookspec_has_a_section_with_signature_and_example():
    text = DOC.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\w+)\n(.*?)(?=^## |\Z)", text, flags=re.M | re.S))
    names = hook_names()
    assert len(names) >= 10
    missing = [name for name in names if name not in sections]
    assert not missing, f"docs/hooks.md has no section for: {', '.join(missing)}"
    for name in names:
        assert f"`{name}(" in sections[name], f"section {name} does not give the signature"
        assert "```python" in sections[name], f"section {name} has no example"


def test_every_hookspec_has_a_docstring():
    for name in hook_names():
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
