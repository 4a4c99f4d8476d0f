import pytest

from tests.kernel.addon_factory import AddonFactory


@pytest.fixture
def addons(tmp_path, monkeypatch):
    """A factory of throwaway addons visible to environments opened after they are written."""
    root = tmp_path / "addons"
    root.mkdir()
    monkeypatch.setenv("JUNIPER_ADDONS_PATH", str(root))
    return AddonFactory(root)
