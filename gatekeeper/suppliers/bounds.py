"""How many rows a consent audit asks for, and what its failures prove (Clopper–Pearson).

The one-sided Clopper–Pearson upper bound is exact: with k failures in n rows, a failure
rate above it would have produced k or fewer failures less often than 1 - confidence. It
is the beta quantile beta(k + 1, n - k) at the confidence (scipy), and 1 when every row
failed. With no failure it is 1 - (1 - confidence)^(1/n), so the sample that can prove a
rate at most max_rate is the smallest n with (1 - confidence)^(1/n) >= 1 - max_rate:
n = ceil(ln(1 - confidence) / ln(1 - max_rate)), 149 at 95 % and 2 %.
"""

from __future__ import annotations

import math

from gatekeeper.core.errors import InputError


def check_levels(confidence: float, max_rate: float) -> None:
    """Both are proportions strictly between 0 and 1 (1 would need infinite samples)."""
    for name, value in (("--confidence", confidence), ("--max-rate", max_rate)):
        if not (math.isfinite(value) and 0 < value < 1):
            raise InputError(f"{name} must be between 0 and 1 (e.g. 0.95 or 0.02), got "
                             f"{value}")


def upper_bound(failures: int, size: int, confidence: float) -> float:
    """One-sided Clopper–Pearson upper bound of the failure rate, k failures in n rows."""
    if not 0 <= failures <= size or size < 1:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={failures}, n={size}")
    if failures == size:
        return 1.0
    # Imported here: scipy.stats costs every command ~1 s and ~65 MB at start-up, and only
    # audits and runs over audited lists need it.
    from scipy.stats import beta

    return float(beta.ppf(confidence, failures + 1, size - failures))


def sample_size(confidence: float, max_rate: float) -> int:
    """The smallest n for which zero failures prove, at the confidence, a failure rate at
    most max_rate. The closed form, then one look either side so a rounding of the
    logarithms can never move the answer off by one."""
    check_levels(confidence, max_rate)
    n = max(1, math.ceil(math.log1p(-confidence) / math.log1p(-max_rate)))
    if upper_bound(0, n, confidence) > max_rate:
        n += 1
    elif n > 1 and upper_bound(0, n - 1, confidence) <= max_rate:
        n -= 1
    return n


def fails(failures: int, size: int, confidence: float, max_rate: float) -> bool:
    """The audit fails when the bound exceeds max_rate (a bound equal to it passes)."""
    return upper_bound(failures, size, confidence) > max_rate
