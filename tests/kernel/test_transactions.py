"""Transactions: nesting, savepoints, and callbacks after commit."""
import pytest

from kernel.models import Contact


def test_nested_block_joins_the_transaction_and_an_error_undoes_everything(env):
    with pytest.raises(ValueError):
        with env.atomic():
            Contact.create(name="Outer")
            with env.atomic():
                Contact.create(name="Inner")
                raise ValueError("boom")
    assert not Contact.select().where(Contact.name.in_(["Outer", "Inner"])).exists()


def test_savepoint_undoes_only_its_block_when_the_caller_goes_on(env):
    with env.atomic():
        Contact.create(name="Kept")
        try:
            with env.atomic(savepoint=True):
                Contact.create(name="Undone")
                raise ValueError("one target refused the mail")
        except ValueError:
            pass
    names = {c.name for c in Contact.select()}
    assert "Kept" in names and "Undone" not in names


def test_on_commit_runs_after_the_outermost_commit_and_never_after_a_rollback(env):
    ran = []
    with env.atomic():
        env.on_commit(lambda: ran.append("first"))
        with env.atomic():
            env.on_commit(lambda: ran.append("nested"))
        assert ran == []
    assert ran == ["first", "nested"]
    with pytest.raises(RuntimeError):
        with env.atomic():
            env.on_commit(lambda: ran.append("rolled back"))
            raise RuntimeError
    assert "rolled back" not in ran
    env.on_commit(lambda: ran.append("no transaction"))
    assert ran[-1] == "no transaction"


def test_sequences_count_per_code_and_never_repeat(env):
    from kernel.sequences import next_number

    assert [next_number(env, "sale.order", "SO") for _ in range(3)] == ["SO0001", "SO0002", "SO0003"]
    assert next_number(env, "account.move.2026", "INV/2026/") == "INV/2026/0001"
    with pytest.raises(RuntimeError):
        with env.atomic():
            next_number(env, "sale.order", "SO")
            raise RuntimeError("the order was not saved")
    assert next_number(env, "sale.order", "SO") == "SO0004"  # a rolled-back number is reused, no gap
