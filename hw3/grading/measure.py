"""The validation MSE a submission reported, read from its log (or printed) messages.

The message is the last one that mentions both "MSE" and "val" (e.g. "validation MSE:
11.5"); its figure is the last number in it that has a decimal point (else its last number). A figure is compared with the expected one to
1e-6, or to half a unit of its last printed digit if the student rounded it more coarsely
(11.50 matches 11.5023 +- 0.005).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
TOLERANCE = 1e-6


@dataclass(frozen=True)
class Reading:
    value: float
    tolerance: float
    message: str

    def matches(self, expected: float) -> bool:
        return math.isfinite(self.value) and abs(self.value - expected) <= self.tolerance


def _tolerance(text: str) -> float:
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2]) - int(exponent or 0)
    return max(TOLERANCE, 0.5 * 10.0**-decimals * (1 + 1e-9))


def reading(figure: str, message: str) -> Reading:
    """A figure as written, with the tolerance of its printed digits."""
    return Reading(float(figure), _tolerance(figure), message.strip())


def reported_errors(messages: Iterable[str]) -> list[Reading]:
    """Every figure a run reported of its error: the last decimal number of each message that
    mentions an MSE or RMSE, and each message that is one number alone (a printed figure)."""
    found = []
    for message in messages:
        numbers = NUMBER.findall(message)
        decimals = [n for n in numbers if "." in n]
        if decimals and ("mse" in message.lower() or NUMBER.fullmatch(message.strip())):
            found.append(reading(decimals[-1], message))
    return found


def validation_mse(messages: Iterable[str]) -> Reading | None:
    """The validation MSE in the last message that reports one, None if none does."""
    for message in reversed(list(messages)):
        lowered = message.lower()
        numbers = NUMBER.findall(message)
        if "mse" in lowered and "val" in lowered and numbers:
            return reading(([n for n in numbers if "." in n] or numbers)[-1], message)
    return None
