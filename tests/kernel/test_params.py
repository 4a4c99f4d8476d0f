"""System parameters: typed values, defaults, clear errors."""
import pytest

from kernel.errors import ParameterError


def test_declared_parameter_returns_its_default_until_set(env):
    assert env.params.get("hosting") == "on-premise"
    env.params.set("hosting", "online")
    assert env.params.get("hosting") == "online"
    env.params.unset("hosting")
    assert env.params.get("hosting") == "on-premise"


def test_set_is_an_upsert(env):
    env.params.set("custom.key", "a")
    env.params.set("custom.key", "b")
    assert env.params.get("custom.key") == "b"
    assert [item["key"] for item in env.params.items()].count("custom.key") == 1


def test_wrong_type_is_refused_with_a_sentence(env, addons):
    from kernel.env import open_environment
    from kernel.installer import install_addons

    name = addons.make("typed", hooks="""
        @hookimpl
        def register_parameters(register):
            register("typed.limit", 0, int)
            register("typed.flag", True, bool)
    """)
    env = open_environment(env.url, clock=env.clock)
    install_addons(env, [name])
    with pytest.raises(ParameterError, match="typed.limit takes a value of type int, not 'many'"):
        env.params.set("typed.limit", "many")
    with pytest.raises(ParameterError, match="typed.flag takes true or false"):
        env.params.set("typed.flag", "perhaps")
    env.params.set("typed.flag", "off")
    assert env.params.get("typed.flag") is False


def test_secret_is_generated_once(env):
    secret = env.params.get("database.secret")
    assert len(secret) == 64
    env.ensure_initialized()
    assert env.params.get("database.secret") == secret


def test_parameters_are_read_once_per_transaction_and_fresh_after_it(env):
    env.params.set("custom.a", "1")
    queries = []

    original = env.db.execute_sql

    def counting(sql, *args, **kwargs):
        if 'FROM "parameter"' in sql:
            queries.append(sql)
        return original(sql, *args, **kwargs)

    env.db.execute_sql = counting
    try:
        with env.atomic():
            for _ in range(5):
                assert env.params.get("custom.a") == "1"
                assert env.params.get("hosting") == "on-premise"
            env.params.set("custom.a", "2")
            assert env.params.get("custom.a") == "2"  # own writes are seen at once
        assert len([q for q in queries if q.lstrip().upper().startswith("SELECT")]) == 1
        from kernel.models import Parameter
        Parameter.update(value="3").where(Parameter.key == "custom.a").execute()  # another process
        assert env.params.get("custom.a") == "3"
    finally:
        env.db.execute_sql = original


def test_amounts_are_exact_decimals_and_bad_ones_a_sentence():
    import decimal

    from kernel.errors import UserError
    from kernel.money import parse_amount

    assert parse_amount("1,250.5") == decimal.Decimal("1250.50")
    for bad in ("lots", "-3", "NaN"):
        with pytest.raises(UserError, match="is not an amount"):
            parse_amount(bad)
