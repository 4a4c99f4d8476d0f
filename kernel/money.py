"""Amounts of money as exact decimals with two places."""
import decimal

from kernel.errors import UserError

CENT = decimal.Decimal("0.01")


def parse_amount(text) -> decimal.Decimal:
    """``"1,250.50"`` or ``1250.5`` -> ``Decimal("1250.50")``; a clear error for anything else."""
    try:
        amount = decimal.Decimal(str(text).replace(",", "").strip())
    except decimal.InvalidOperation:
        raise UserError(f"{text!r} is not an amount.", hint="Write it like 1250.50.") from None
    if not amount.is_finite() or amount < 0:
        raise UserError(f"{text!r} is not an amount.", hint="Write a positive number like 1250.50.")
    return amount.quantize(CENT)
