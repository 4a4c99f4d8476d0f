"""Throwaway addons written to a temporary folder and found through $JUNIPER_ADDONS_PATH."""
import textwrap
import uuid
from pathlib import Path


class AddonFactory:
    """Writes addon packages with unique names (so Python's import cache never mixes two tests)."""

    def __init__(self, root: Path):
        self.root = root
        self.suffix = uuid.uuid4().hex[:8]

    def name(self, short: str) -> str:
        return f"{short}_{self.suffix}"

    def make(self, short: str, *, depends=(), hooks: str = "", version: str = "1.0",
             migrations: dict[str, str] | None = None) -> str:
        name = self.name(short)
        folder = self.root / name
        folder.mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        manifest = {"name": short.title(), "version": version, "depends": [self.name(d) if not d.startswith("=")
                                                                           else d[1:] for d in depends],
                    "summary": f"Test addon {short}", "license": "Apache-2.0"}
        (folder / "__manifest__.py").write_text(repr(manifest))
        (folder / "hooks.py").write_text("from kernel import hookimpl\n" + textwrap.dedent(hooks))
        if migrations:
            (folder / "migrations").mkdir()
            (folder / "migrations" / "__init__.py").write_text("")
            for version_name, code in migrations.items():
                (folder / "migrations" / f"{version_name}.py").write_text(textwrap.dedent(code))
        return name
