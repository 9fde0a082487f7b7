"""Means with 95 % confidence intervals over seeds, and paired comparisons.

For ``n`` seeds with mean ``m`` and sample standard deviation ``sd`` the interval is
``m -/+ t_{0.975, n-1} sd / sqrt(n)`` (Student's t). A paired comparison of a
strategy ``A`` against a reference ``B`` on the same seeds takes the per-seed
differences ``A - B`` and gives their mean and interval the same way; it counts
as a win (or a loss) only when the interval excludes 0.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def summary(values) -> dict:
    """``{mean, sd, lo, hi, n}`` of the finite values (None entries are left out)."""
    x = np.array([v for v in values if v is not None], dtype=float)
    n = int(x.size)
    if n == 0:
        return {"mean": None, "sd": None, "lo": None, "hi": None, "n": 0}
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "sd": None, "lo": None, "hi": None, "n": 1}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "lo": mean - half, "hi": mean + half, "n": n}


def paired(a, b, higher_is_better: bool) -> dict:
    """Per-seed differences ``a - b`` (seeds where either is None are dropped)."""
    diffs = [x - y for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    out = summary(diffs)
    better = [d > 0 if higher_is_better else d < 0 for d in diffs]
    out["better_seeds"] = int(sum(better))
    if out["lo"] is None:
        out["verdict"] = "too few seeds"
    elif out["lo"] > 0 or out["hi"] < 0:
        good = (out["lo"] > 0) == higher_is_better
        out["verdict"] = "better" if good else "worse"
    else:
        out["verdict"] = "no measurable difference"
    return out


def best(means: dict[str, float | None], higher_is_better: bool) -> str | None:
    """The key with the best mean (None means are never best; None if all are)."""
    known = {k: v for k, v in means.items() if v is not None}
    if not known:
        return None
    pick = max if higher_is_better else min
    return pick(known, key=known.get)
