"""Juniper's kernel: database, records, addons, hooks, parameters, scheduled actions and the CLI.

Addons write ``from kernel import hookimpl`` and implement the hooks of :mod:`kernel.hookspecs`.
"""
import pluggy

PROJECT_NAME = "juniper"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["hookimpl", "hookspec", "PROJECT_NAME"]
