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


# ---------------------------------------------------------------- the other attention types
#
# Each takes Q as (d,) or (m, d) and returns (dv,) or (m, dv) (weights: (n,)
# or (m, n)), row by row, straight from the definitions of DESIGN.md and the
# attention-types issue, in float64.


def _rows(Q: object) -> Tuple[np.ndarray, bool]:
    q = f64(Q)
    return q.reshape(-1, q.shape[-1]), q.ndim == 1


def _shape_back(rows: list, one: bool) -> np.ndarray:
    out = np.array(rows, dtype=np.float64)
    return out[0] if one else out


def phi(x: object) -> np.ndarray:
    """elu(x) + 1: x + 1 above 0, exp(x) at or below."""
    a = f64(x)
    return np.where(a > 0, a + 1.0, np.exp(np.minimum(a, 0.0)))


def linear_weights(Q: object, K: object) -> np.ndarray:
    q2, one = _rows(Q)
    pk = phi(K)
    rows = []
    for q in q2:
        w = pk @ phi(q)
        rows.append(w / w.sum())
    return _shape_back(rows, one)


def linear_attention(Q: object, K: object, V: object) -> np.ndarray:
    return linear_weights(Q, K) @ f64(V)


def linear_summary(K: object, V: object) -> Tuple[np.ndarray, np.ndarray]:
    """(S, z): S = sum_i phi(k_i) v_i^T (d x dv), z = sum_i phi(k_i)."""
    pk = phi(K)
    return pk.T @ f64(V), pk.sum(axis=0)


def leaky_relu(x: np.ndarray, slope: float) -> np.ndarray:
    return np.where(x > 0, x, slope * x)


def gat_logits(Q: object, K: object, slope: float = 0.2, a: object = None,
               scale: Optional[float] = None) -> np.ndarray:
    q2, one = _rows(Q)
    k = f64(K)
    d = q2.shape[1]
    rows = []
    for q in q2:
        if a is None:
            s = (default_scale(d) if scale is None else scale) * (k @ q)
        else:
            av = f64(a)
            s = av[:d] @ q + k @ av[d:]
        rows.append(leaky_relu(s, slope))
    return _shape_back(rows, one)


def gat_weights(Q: object, K: object, slope: float = 0.2, a: object = None,
                scale: Optional[float] = None) -> np.ndarray:
    e = gat_logits(Q, K, slope, a, scale)
    return np.apply_along_axis(softmax, -1, e) if e.ndim == 2 else softmax(e)


def gat_attention(Q: object, K: object, V: object, slope: float = 0.2, a: object = None,
                  scale: Optional[float] = None) -> np.ndarray:
    return gat_weights(Q, K, slope, a, scale) @ f64(V)


def _logits(Q: object, K: object, scale: Optional[float]) -> Tuple[np.ndarray, bool]:
    q2, one = _rows(Q)
    s = default_scale(q2.shape[1]) if scale is None else scale
    return (q2 @ f64(K).T) * s, one


def top_k_indices(s: np.ndarray, k: int) -> np.ndarray:
    """The k largest entries of s, ties to the lower index (a full sort: the
    reference may be slow)."""
    order = sorted(range(s.size), key=lambda i: (-s[i], i))
    return np.array(order[:k], dtype=np.int64)


def sparse_weights(Q: object, K: object, top_k: int = 8, scale: Optional[float] = None) -> np.ndarray:
    logits, one = _logits(Q, K, scale)
    rows = []
    for s in logits:
        w = np.zeros_like(s)
        idx = top_k_indices(s, top_k)
        w[idx] = softmax(s[idx])
        rows.append(w)
    return _shape_back(rows, one)


def sparse_attention(Q: object, K: object, V: object, top_k: int = 8,
                     scale: Optional[float] = None) -> np.ndarray:
    return sparse_weights(Q, K, top_k, scale) @ f64(V)


def moe_groups(n: int, n_experts: int) -> list:
    """[(start, stop)] of min(n_experts, n) contiguous groups, the first
    n % E one key longer."""
    e = min(n_experts, n)
    base, extra = divmod(n, e)
    bounds, start = [], 0
    for g in range(e):
        stop = start + base + (1 if g < extra else 0)
        bounds.append((start, stop))
        start = stop
    return bounds


def moe_weights(Q: object, K: object, n_experts: int = 4, top_k: int = 2,
                scale: Optional[float] = None) -> np.ndarray:
    logits, one = _logits(Q, K, scale)
    groups = moe_groups(f64(K).shape[0], n_experts)
    rows = []
    for s in logits:
        gates = np.array([s[a:b].mean() for a, b in groups])
        chosen = top_k_indices(gates, top_k)
        g = softmax(gates[chosen])
        w = np.zeros_like(s)
        for ge, e in zip(g, chosen):
            a, b = groups[e]
            w[a:b] = ge * softmax(s[a:b])
        rows.append(w)
    return _shape_back(rows, one)


def moe_attention(Q: object, K: object, V: object, n_experts: int = 4, top_k: int = 2,
                  scale: Optional[float] = None) -> np.ndarray:
    return moe_weights(Q, K, n_experts, top_k, scale) @ f64(V)


def _masked_rows(Q: object, K: object, V: object, scale: Optional[float], heads: int,
                 allowed: "object") -> np.ndarray:
    """Attention of each query row over the keys allowed(r, m, n) (a boolean
    mask of n), per head (contiguous slices), rows with no key 0."""
    q2, one = _rows(Q)
    k, v = f64(K), f64(V)
    m, d = q2.shape
    n, dv = v.shape
    dh, dvh = d // heads, dv // heads
    out = np.zeros((m, dv))
    for r in range(m):
        mask = allowed(r, m, n)
        if not mask.any():
            continue
        for h in range(heads):
            qs, ks = q2[r, h * dh:(h + 1) * dh], k[mask, h * dh:(h + 1) * dh]
            s = (1.0 / math.sqrt(dh) if scale is None else scale) * (ks @ qs)
            out[r, h * dvh:(h + 1) * dvh] = softmax(s) @ v[mask, h * dvh:(h + 1) * dvh]
    return out[0] if one else out


def cross_mask(causal: bool):
    def allowed(r: int, m: int, n: int) -> np.ndarray:
        j = np.arange(n)
        return j <= r + n - m if causal else np.ones(n, dtype=bool)
    return allowed


def sliding_mask(window: int):
    def allowed(r: int, m: int, n: int) -> np.ndarray:
        j = np.arange(n)
        rp = r + n - m
        return (j <= rp) & (j > rp - window)
    return allowed


def cross_attention(Q: object, K: object, V: object, causal: bool = False, heads: int = 1,
                    scale: Optional[float] = None) -> np.ndarray:
    return _masked_rows(Q, K, V, scale, heads, cross_mask(causal))


def sliding_window_attention(Q: object, K: object, V: object, window: int = 256,
                             scale: Optional[float] = None) -> np.ndarray:
    return _masked_rows(Q, K, V, scale, 1, sliding_mask(window))


def masked_weights(Q: object, K: object, allowed: "object", scale: Optional[float] = None,
                   heads: int = 1) -> np.ndarray:
    """The head-averaged weights of _masked_rows (rows with no key 0)."""
    q2, one = _rows(Q)
    k = f64(K)
    m, d = q2.shape
    n = k.shape[0]
    dh = d // heads
    W = np.zeros((m, n))
    for r in range(m):
        mask = allowed(r, m, n)
        if not mask.any():
            continue
        for h in range(heads):
            s = (1.0 / math.sqrt(dh) if scale is None else scale) * (k[mask, h * dh:(h + 1) * dh] @ q2[r, h * dh:(h + 1) * dh])
            W[r, mask] += softmax(s) / heads
    return W[0] if one else W


def poincare_distance(x: np.ndarray, y: np.ndarray, c: float) -> float:
    num = 2.0 * c * float(np.sum((x - y) ** 2))
    den = (1.0 - c * float(x @ x)) * (1.0 - c * float(y @ y))
    return float(np.arccosh(1.0 + num / den) / math.sqrt(c))


def _log0(v: np.ndarray, c: float) -> np.ndarray:
    nv = math.sqrt(float(v @ v))
    if nv == 0.0:
        return v.copy()
    return np.arctanh(math.sqrt(c) * nv) * v / (math.sqrt(c) * nv)


def _exp0(u: np.ndarray, c: float) -> np.ndarray:
    nu = math.sqrt(float(u @ u))
    if nu == 0.0:
        return u.copy()
    return np.tanh(math.sqrt(c) * nu) * u / (math.sqrt(c) * nu)


def poincare_logits(Q: object, K: object, c: float = 1.0) -> np.ndarray:
    q2, one = _rows(Q)
    k = f64(K)
    return _shape_back([[-poincare_distance(q, ki, c) for ki in k] for q in q2], one)


def poincare_attention(Q: object, K: object, V: object, c: float = 1.0) -> np.ndarray:
    q2, one = _rows(Q)
    logits = poincare_logits(q2, K, c)
    logs = np.array([_log0(v, c) for v in f64(V)])
    return _shape_back([_exp0(softmax(s) @ logs, c) for s in logits], one)


def _time(x: np.ndarray, c: float) -> np.ndarray:
    return np.sqrt(1.0 / c + np.sum(x * x, axis=-1))


def lorentz_logits(Q: object, K: object, c: float = 1.0) -> np.ndarray:
    q2, one = _rows(Q)
    k = f64(K)
    k0 = _time(k, c)
    rows = []
    for q in q2:
        inner = -_time(q, c) * k0 + k @ q  # <q, k>_L
        rows.append(-np.arccosh(np.maximum(-c * inner, 1.0)) / math.sqrt(c))
    return _shape_back(rows, one)


def lorentz_attention(Q: object, K: object, V: object, c: float = 1.0) -> np.ndarray:
    q2, one = _rows(Q)
    v = f64(V)
    v0 = _time(v, c)
    rows = []
    for s in lorentz_logits(q2, K, c):
        w = softmax(s)
        u0, us = w @ v0, w @ v
        rows.append(us / math.sqrt(c * (u0 * u0 - us @ us)))
    return _shape_back(rows, one)


def softmax_rows(L: np.ndarray) -> np.ndarray:
    return np.apply_along_axis(softmax, -1, L) if L.ndim == 2 else softmax(L)
