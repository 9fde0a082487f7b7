"""uint16 quantisation of probability weights (histogram bins, point-cloud masses).

A weight vector ``w`` (``w_i >= 0``, ``sum w = 1``) of ``n`` entries is sent as
integers ``q_i`` with ``sum q = S = 65535``, chosen by the largest-remainder
(Hamilton) rule: ``q_i = floor(S w_i)`` plus one for the ``S - sum floor(S w)``
entries with the largest fractional parts. Every ``q_i`` is therefore ``floor`` or
``ceil`` of ``S w_i``, and the decoder's ``w'_i = q_i / sum q`` satisfies

    |w'_i - w_i| < 1/S ~= 1.53e-5        (each weight)
    sum_i |w'_i - w_i| <= n / (2 S)       (L1; 2.44e-4 for n = 32)

(L1 bound: the rounded-up set U and rounded-down set D carry equal total error
X = sum_D f_i = sum_U (1 - f_i), and since every f in D is at most every f in U,
X <= |U| |D| / n <= n / 4, so L1 = 2 X <= n / 2, in units of 1/S.)
The Wasserstein-1 distance between the sent and decoded histogram on a support
of width ``hi - lo`` is at most ``(hi - lo) * n / (2 S)`` as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from otswarm.summaries.errors import InvalidFieldError
from otswarm.summaries.reader import U16

if TYPE_CHECKING:
    from otswarm.summaries.reader import PayloadReader

SCALE = 65535
_SCALE = np.array(float(SCALE))  # NumPy multiplies and divides by a 0-d array faster than a float


def quantize_weights(weights: np.ndarray) -> bytes:
    """Largest-remainder uint16 quantisation of ``weights`` (sum = SCALE exactly), as the
    wire's little-endian u16 array.

    ``weights`` must be a float64 array, non-negative and normalised (sum 1 up to float
    rounding), as every message guarantees on construction; then ``sum floor(S w) <= S``.
    Ties between equal fractional parts go to the lower index.

    Six NumPy calls (seven with a shortfall, the common case): at 32 entries each costs
    its call overhead, not its arithmetic, so the shortfall's entries are marked in a
    fresh zero vector by one scalar assignment (a fancy ``+= 1`` reads, adds and writes
    back: three times that).
    """
    scaled = weights * _SCALE
    quantized = scaled.astype(U16)  # floor: 0 <= S w <= S fits u16
    # Python's sum of the list: half a NumPy reduction's cost below ~64 entries (the
    # swarm's histograms), 30 µs more at the limit of 4096
    missing = SCALE - sum(quantized.tolist())
    if missing:
        largest_first = (quantized - scaled).argsort(kind="stable")  # -(fractional part)
        up = np.zeros(weights.size, U16)
        up[largest_first[:missing]] = 1
        quantized += up
    return quantized.tobytes()


def dequantize_weights(quantized: np.ndarray, reader: PayloadReader) -> np.ndarray:
    """Weights ``q / sum q`` in float64 (finite, >= 0, summing to 1 up to rounding); the
    sum must be ``SCALE`` within ``n``.

    The tolerance ``n`` admits encoders that round each weight independently
    (their sum is off by at most ``n / 2``). Raises InvalidFieldError, naming the
    payload of ``reader``, otherwise.
    """
    total = sum(quantized.tolist())  # see quantize_weights
    if total == SCALE:  # what this encoder sends: the same quotient, a cheaper call
        return quantized / _SCALE
    if abs(total - SCALE) > len(quantized):
        raise InvalidFieldError(
            f"{reader.where}: quantised weights sum to {total}, expected {SCALE} ± {len(quantized)}"
        )
    return quantized / float(total)
