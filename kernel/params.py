"""System parameters: typed key/value settings with defaults declared by addons."""
import dataclasses

from kernel.errors import ParameterError
from kernel.models import Parameter

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


@dataclasses.dataclass(frozen=True)
class ParameterSpec:
    key: str
    default: object
    type: type
    help: str
    addon: str


def convert(value, kind: type, key: str):
    """``value`` (text or Python) converted to ``kind``; a clear error when it does not fit."""
    if value is None:
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ParameterError(f"Parameter {key} takes true or false, not {value!r}.")
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ParameterError(f"Parameter {key} takes a value of type {kind.__name__}, not {value!r}.") from None


class Parameters:
    """Typed access to the ``ir.config_parameter`` table of one environment."""

    def __init__(self, specs: dict[str, ParameterSpec]):
        self.specs = specs
        self._snapshot: dict[str, str | None] | None = None
        self._caching = False

    def cache_for_transaction(self, enabled: bool) -> None:
        """Inside a transaction, read every parameter once (one query) and serve reads from memory.

        The environment turns this on for its outermost transaction and off after it, so a
        long-running worker still sees changes made by other processes at its next transaction.
        """
        self._caching = enabled
        self._snapshot = None

    def _stored(self, key: str) -> str | None:
        if not self._caching:
            row = Parameter.get_or_none(Parameter.key == key)
            return None if row is None else row.value
        if self._snapshot is None:
            self._snapshot = {row.key: row.value for row in Parameter.select(Parameter.key, Parameter.value)}
        return self._snapshot.get(key)

    def spec(self, key: str) -> ParameterSpec | None:
        return self.specs.get(key)

    def get(self, key: str, default=None):
        """The value of ``key`` converted to its declared type; the declared default when unset."""
        spec = self.specs.get(key)
        value = self._stored(key)
        if value is None:
            if default is not None or spec is None:
                return default
            return spec.default
        return convert(value, spec.type, key) if spec else value

    def get_raw(self, key: str) -> str | None:
        return self._stored(key)

    def set(self, key: str, value) -> None:
        """Store ``value`` for ``key``; declared keys are checked against their type."""
        spec = self.specs.get(key)
        if spec is not None:
            value = convert(value, spec.type, key)
        text = None if value is None else (("true" if value else "false") if isinstance(value, bool) else str(value))
        (Parameter.insert(key=key, value=text)
         .on_conflict(conflict_target=[Parameter.key], update={Parameter.value: text})
         .execute())
        if self._snapshot is not None:
            self._snapshot[key] = text

    def unset(self, key: str) -> bool:
        if self._snapshot is not None:
            self._snapshot.pop(key, None)
        return Parameter.delete().where(Parameter.key == key).execute() > 0

    def items(self) -> list[dict]:
        """Every declared or stored parameter with its value and whether it is the default."""
        stored = {row.key: row.value for row in Parameter.select()}
        keys = sorted(set(stored) | set(self.specs))
        result = []
        for key in keys:
            spec = self.specs.get(key)
            is_set = key in stored and stored[key] is not None
            value = self.get(key)
            result.append({
                "key": key,
                "value": value,
                "default": None if spec is None else spec.default,
                "is_default": not is_set,
                "addon": None if spec is None else spec.addon,
                "help": "" if spec is None else spec.help,
                "secret": key.endswith(".secret") or "password" in key,
            })
        return result
