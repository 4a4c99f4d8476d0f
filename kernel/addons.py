"""Addon discovery, manifests and dependency order.

An addon is a Python package with a data-only ``__manifest__.py`` (a dict literal with ``name``,
``version``, ``depends``, ``summary``, ``license``), a ``hooks`` module (its plugin), and optionally
``models``, ``cli`` and ``migrations/<version>.py`` (each with ``migrate(env)``). Addons are found in
the ``addons_mail`` and ``plugins`` packages, in the folders listed in ``$JUNIPER_ADDONS_PATH``, and in
the ``juniper.addons`` entry-point group (the entry point's value is the addon's package).
"""
import ast
import dataclasses
import importlib
import importlib.util
import os
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

from kernel.errors import AddonError

ADDON_PACKAGES = ("addons_mail", "plugins")
ADDONS_PATH_ENV = "JUNIPER_ADDONS_PATH"
ENTRY_POINT_GROUP = "juniper.addons"
AUTOLOAD_ENV = "JUNIPER_DISABLE_PLUGIN_AUTOLOAD"


@dataclasses.dataclass(frozen=True)
class Addon:
    name: str
    package: str  # importable package path, e.g. "addons_mail.mail_server"
    path: Path
    version: str
    depends: tuple[str, ...]
    summary: str
    license: str
    source: str  # "addons_mail", "plugins" or "entry point <dist>"

    def import_hooks(self):
        """The addon's plugin module (``<package>.hooks``)."""
        return importlib.import_module(f"{self.package}.hooks")

    def migrations(self) -> list[tuple[tuple[int, ...], str]]:
        """(version tuple, module path) of every migration shipped, oldest first."""
        folder = self.path / "migrations"
        found = []
        if folder.is_dir():
            for file in folder.glob("*.py"):
                if file.stem == "__init__":
                    continue
                version = parse_version(file.stem.replace("_", "."))
                found.append((version, f"{self.package}.migrations.{file.stem}"))
        return sorted(found)


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def read_manifest(path: Path) -> dict:
    """Read a data-only manifest with ``ast.literal_eval`` (it is never executed)."""
    try:
        data = ast.literal_eval(path.read_text(encoding="utf-8"))
    except (ValueError, SyntaxError) as exc:
        raise AddonError(f"The manifest {path} is not a plain dict literal: {exc}.") from None
    if not isinstance(data, dict):
        raise AddonError(f"The manifest {path} must be a dict.")
    return data


def _addon_from_package(package: str, source: str) -> Addon | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0])
    manifest_file = path / "__manifest__.py"
    if not manifest_file.is_file():
        return None
    manifest = read_manifest(manifest_file)
    name = package.rsplit(".", 1)[-1]
    return Addon(
        name=name,
        package=package,
        path=path,
        version=str(manifest.get("version", "0.1")),
        depends=tuple(manifest.get("depends", ())),
        summary=str(manifest.get("summary", "")),
        license=str(manifest.get("license", "")),
        source=source,
    )


def discover_addons() -> dict[str, Addon]:
    """Every addon available: built-in folders first, then entry points (unless autoload is off)."""
    found: dict[str, Addon] = {}
    for top in ADDON_PACKAGES:
        module = importlib.import_module(top)
        for info in sorted(pkgutil.iter_modules(module.__path__), key=lambda i: i.name):
            if info.ispkg:
                addon = _addon_from_package(f"{top}.{info.name}", top)
                if addon:
                    found[addon.name] = addon
    for folder in filter(None, os.environ.get(ADDONS_PATH_ENV, "").split(os.pathsep)):
        if folder not in sys.path:
            sys.path.append(folder)
        for child in sorted(Path(folder).iterdir()):
            if (child / "__manifest__.py").is_file():
                addon = _addon_from_package(child.name, folder)
                if addon:
                    found[addon.name] = addon
    if os.environ.get(AUTOLOAD_ENV, "") not in ("1", "true", "yes"):
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            addon = _addon_from_package(ep.value, f"entry point {ep.dist.name if ep.dist else ep.name}")
            if addon is None:
                raise AddonError(
                    f"The entry point {ep.name!r} names {ep.value!r}, which is not an addon package "
                    "(no __manifest__.py)."
                )
            if addon.name in found:
                raise AddonError(
                    f"Two addons are named {addon.name!r}: {found[addon.name].package} and {addon.package}."
                )
            found[addon.name] = addon
    return found


def install_order(names: list[str], available: dict[str, Addon]) -> list[Addon]:
    """The addons ``names`` and everything they depend on, dependencies first.

    Unknown addons, missing dependencies and cycles are :class:`AddonError` naming the addons.
    """
    order: list[Addon] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]):
        if name not in available:
            if path:
                raise AddonError(
                    f"Addon {path[-1]!r} depends on {name!r}, which is not available.",
                    hint="Install the distribution that provides it, or fix the manifest.",
                )
            raise AddonError(
                f"Unknown addon {name!r}.", hint="Run `juniper addons list` to see the available addons."
            )
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name):] + [name]
            raise AddonError(f"Dependency cycle between addons: {' -> '.join(cycle)}.")
        state[name] = "visiting"
        for dependency in available[name].depends:
            visit(dependency, path + [name])
        state[name] = "done"
        order.append(available[name])

    for name in names:
        visit(name, [])
    return order
