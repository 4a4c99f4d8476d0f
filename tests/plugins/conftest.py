import pytest
from click.testing import CliRunner

from kernel.cli import cli


@pytest.fixture
def juniper(env):
    """``juniper("crm", "lead", "list")``: run the CLI on the test environment's database."""
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(cli, ["--db", env.url, *args], input=input, catch_exceptions=False)

    return run
