"""Money amounts from legacy systems, as exact ``Decimal`` values with a fixed scale.

Legacy columns hold amounts as ``NUMERIC`` text (``880.0000``), right-aligned fixed-width text
(``  880.00``), with thousands separators (``1,234.50``), a currency sign (``¥``/``￥``), a
trailing ``元`` or in full-width digits. Amounts are never rounded: a value with more decimal
places than the scale allows is refused, so what is published is exactly what was recorded.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from bus.standards.errors import StandardViolation
from bus.standards.text import normalize_whitespace, to_half_width

__all__ = ["InvalidAmount", "normalize_amount"]

_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_CURRENCY = ("¥", "￥", "RMB", "CNY")
_UNIT = "元"


class InvalidAmount(StandardViolation):
    """A value that is not an amount of money the schema can carry."""


def normalize_amount(raw: str | int | Decimal | None, *, scale: int = 2, precision: int = 18,
                     allow_negative: bool = False) -> Decimal:
    """The amount quantized to ``scale`` decimal places, at most ``precision`` digits in all.

    Rule ids, in order: ``amount.missing``, ``amount.format``, ``amount.negative``,
    ``amount.scale`` (more decimal places than ``scale``, not just trailing zeros),
    ``amount.range`` (more than ``precision - scale`` digits before the point).
    """
    if raw is None or isinstance(raw, bool):
        raise InvalidAmount("amount.missing", "金额缺失", "amount is missing", raw)
    if isinstance(raw, Decimal | int):
        value = Decimal(raw)
        if not value.is_finite():
            raise _format(raw)
    else:
        value = _parse(raw)
    if value < 0 and not allow_negative:
        raise InvalidAmount("amount.negative", f"金额不能为负：{raw!r}", f"amount is negative: {raw!r}", raw)
    quantum = Decimal(1).scaleb(-scale)
    try:
        quantized = value.quantize(quantum)
    except InvalidOperation:
        raise _range(raw, precision, scale) from None
    if quantized != value:
        raise InvalidAmount(
            "amount.scale", f"金额的小数位超过{scale}位：{raw!r}",
            f"amount has more than {scale} decimal places: {raw!r}", raw,
        )
    if quantized.adjusted() >= precision - scale:
        raise _range(raw, precision, scale)
    return quantized if quantized else abs(quantized)  # no negative zero


def _parse(raw: str) -> Decimal:
    text = normalize_whitespace(to_half_width(raw))
    if not text:
        raise InvalidAmount("amount.missing", "金额缺失", "amount is missing", raw)
    for sign in _CURRENCY:
        text = text.removeprefix(sign).strip()
    text = text.removesuffix(_UNIT).strip()
    if not _NUMBER.fullmatch(text):
        raise _format(raw)
    return Decimal(text.replace(",", ""))


def _format(raw: object) -> InvalidAmount:
    return InvalidAmount("amount.format", f"无法识别的金额：{raw!r}", f"not an amount: {raw!r}", raw)


def _range(raw: object, precision: int, scale: int) -> InvalidAmount:
    return InvalidAmount(
        "amount.range", f"金额超出范围（整数部分最多{precision - scale}位）：{raw!r}",
        f"amount out of range (at most {precision - scale} digits before the point): {raw!r}", raw,
    )
