"""Float64 numpy references for the Python API tests, and the accuracy rule.

Independent code: plain np.float64 arithmetic, never calling ruvector_cffi.
Inputs are taken as given (the tests pass the float32 arrays the library
sees), converted to float64, and every result is float64.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np

#: lengths that exercise every SIMD tail (DESIGN.md section 2)
TAILS = (1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 1000, 4099)

RTOL = 1e-5  # relative part of the accuracy bar (DESIGN.md section 2)
ATOL = 1e-6  # absolute part, times the scale of the inputs
# float32 cannot hold results below its normal range: they may round to 0
FLOOR = float(np.finfo(np.float32).tiny)


def assert_close(got: object, ref: object, scale: float = 1.0, what: str = "") -> None:
    """The accuracy bar, elementwise: |got - ref| <= 1e-5 |ref| + 1e-6 scale,
    plus the float32 underflow floor (1.2e-38); shapes must agree and got
    must be finite.

    `scale` is the magnitude of the inputs the result is built from, the
    size its float32 rounding errors are proportional to: sum_i |s q_i k_i|
    for a logit (logit_magnitude); max |V| for attention outputs whose
    logits are exact (value_scale); for computed logits a float32 rounding
    error of eps L in a logit of magnitude up to L moves a weight by about
    eps L relatively, so weights get max(1, L) and outputs max|V| max(1, L)
    (weights_scale, attention_scale)."""
    g = np.asarray(got, dtype=np.float64)
    r = np.asarray(ref, dtype=np.float64)
    assert g.shape == r.shape, f"{what}: shape {g.shape} != reference {r.shape}"
    assert np.all(np.isfinite(g)), f"{what}: non-finite result {g}"
    err = np.abs(g - r)
    tol = RTOL * np.abs(r) + ATOL * scale + FLOOR
    bad = err > tol
    if np.any(bad):
        i = np.unravel_index(int(np.argmax(err - tol)), err.shape) if err.ndim else ()
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {err.size} elements outside the bar; worst at {i}: "
            f"got {g[i]!r}, reference {r[i]!r}, |diff| {err[i]:.3g} > tol {tol[i]:.3g} (scale {scale:.3g})"
        )


def f64(x: object) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def softmax(x: object) -> np.ndarray:
    """Stable softmax in float64; -inf entries get weight 0."""
    a = f64(x)
    if a.size == 0:
        return a.copy()
    e = np.exp(a - a.max())
    return e / e.sum()


def default_scale(d: int) -> float:
    return 1.0 / math.sqrt(d)


def logit(q: object, k: object, scale: Optional[float] = None) -> float:
    qq, kk = f64(q), f64(k)
    s = default_scale(qq.size) if scale is None else scale
    return float(s * np.dot(qq, kk))


def logit_magnitude(q: object, k: object, scale: Optional[float] = None) -> float:
    """sum_i |scale q_i k_i|: the input scale of a logit for assert_close."""
    qq, kk = f64(q), f64(k)
    s = default_scale(qq.size) if scale is None else scale
    return float(abs(s) * np.sum(np.abs(qq * kk)))


def multi_head_logit(q: object, k: object, heads: int) -> float:
    """Mean over heads of q_h.k_h / sqrt(d/H), heads as contiguous slices."""
    qq, kk = f64(q), f64(k)
    dh = qq.size // heads
    return float(np.mean([np.dot(qq[h * dh:(h + 1) * dh], kk[h * dh:(h + 1) * dh]) / math.sqrt(dh)
                          for h in range(heads)]))


def scores(Q: object, K: object, scale: Optional[float] = None) -> np.ndarray:
    """softmax(scale K q) per query row: (n,) for 1-D Q, (m, n) for 2-D."""
    q, k = f64(Q), f64(K)
    s = default_scale(q.shape[-1]) if scale is None else scale
    logits = (q.reshape(-1, q.shape[-1]) @ k.T) * s
    w = np.stack([softmax(row) for row in logits]) if logits.size else logits
    return w.reshape(q.shape[:-1] + (k.shape[0],))


def multi_head_scores(Q: object, K: object, heads: int) -> np.ndarray:
    """Head-averaged attention weights, heads as contiguous slices, each
    head with scale 1/sqrt(d/H)."""
    q, k = f64(Q), f64(K)
    d = q.shape[-1]
    dh = d // heads
    q2 = q.reshape(-1, d)
    w = np.mean([scores(q2[:, h * dh:(h + 1) * dh], k[:, h * dh:(h + 1) * dh], 1.0 / math.sqrt(dh))
                 for h in range(heads)], axis=0)
    return w.reshape(q.shape[:-1] + (k.shape[0],))


def scaled_dot_attention(Q: object, K: object, V: object, scale: Optional[float] = None) -> np.ndarray:
    """softmax(scale K q) @ V per query row: (dv,) or (m, dv)."""
    return scores(Q, K, scale) @ f64(V)


def multi_head_attention(Q: object, K: object, V: object, heads: int) -> Tuple[np.ndarray, np.ndarray]:
    """(out, head-averaged weights); head h: query/key dims [h d/H, (h+1) d/H),
    value dims [h dv/H, (h+1) dv/H), scale 1/sqrt(d/H), outputs concatenated."""
    q, k, v = f64(Q), f64(K), f64(V)
    q2 = q.reshape(-1, q.shape[-1])
    d, dv = q2.shape[1], v.shape[1]
    dh, dvh = d // heads, dv // heads
    outs, ws = [], []
    for h in range(heads):
        w = scores(q2[:, h * dh:(h + 1) * dh], k[:, h * dh:(h + 1) * dh], 1.0 / math.sqrt(dh))
        ws.append(w)
        outs.append(w @ v[:, h * dvh:(h + 1) * dvh])
    out = np.concatenate(outs, axis=1)
    avg = np.mean(ws, axis=0)
    return out.reshape(q.shape[:-1] + (dv,)), avg.reshape(q.shape[:-1] + (k.shape[0],))


def logit_bound(Q: object, K: object, scale: Optional[float] = None, heads: int = 1) -> float:
    """L = max over query rows, keys and heads of sum_j |s_h q_j k_ij|: a bound
    on every logit and on its float32 partial sums.  s_h is `scale`, or
    1/sqrt(d/heads) by default."""
    q, k = f64(Q), f64(K)
    q2 = q.reshape(-1, q.shape[-1])
    dh = q2.shape[1] // heads
    s = 1.0 / math.sqrt(dh) if scale is None else abs(scale)
    best = 0.0
    for h in range(heads):
        sl = slice(h * dh, (h + 1) * dh)
        if k.size and q2.size:
            best = max(best, float(np.max(np.abs(q2[:, sl]) @ np.abs(k[:, sl]).T)) * s)
    return best


def weights_scale(Q: object, K: object, scale: Optional[float] = None, heads: int = 1) -> float:
    return max(1.0, logit_bound(Q, K, scale, heads))


def attention_scale(Q: object, K: object, V: object, scale: Optional[float] = None, heads: int = 1) -> float:
    return value_scale(V) * weights_scale(Q, K, scale, heads)


def value_scale(V: object) -> float:
    """max |V|: the input scale of attention outputs (a convex combination of
    value rows), at least the smallest normal float to keep tol > 0."""
    v = f64(V)
    return max(float(np.max(np.abs(v), initial=0.0)), 1e-38)
