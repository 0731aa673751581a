"""Threads: results independent of the thread count, many Python threads at
once, the GIL released during compute, and a failed thread start."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ruvector_cffi as rv
import reference as ref
from reference import assert_close, attention_scale
from ruvector_cffi import _binding, _validate


@pytest.fixture
def forced_threads():
    """Threads start even for tiny inputs (min work per thread = 1 float)."""
    with rv._threads_for_test(1):
        yield


def _inputs(rng, m, n, d, dv):
    return (rng.standard_normal((m, d)).astype(np.float32),
            rng.standard_normal((n, d)).astype(np.float32),
            rng.standard_normal((n, dv)).astype(np.float32))


def test_threads_really_start_when_forced(forced_threads):
    plan = _binding.lib.rv_plan_threads
    assert plan(9, 100, _validate._exec_for(8)) == 8
    assert plan(9, 100, _validate._exec_for(2)) == 2
    assert plan(3, 100, _validate._exec_for(8)) == 3
    assert _validate._exec_for(1) == _binding.NULL


def test_small_inputs_stay_on_one_thread_by_default():
    assert _binding.lib.rv_plan_threads(9, 100, _validate._exec_for(8)) == 1


@pytest.mark.parametrize("m, n", [(1, 50), (3, 17), (9, 300), (32, 1000)])
def test_bit_identical_for_any_thread_count(backend, rng, forced_threads, m, n):
    Q, K, V = _inputs(rng, m, n, 16, 12)
    calls = {
        "scaled_dot": lambda t: rv.scaled_dot_attention(Q, K, V, threads=t),
        "flash": lambda t: rv.flash_attention(Q, K, V, 7, threads=t),
        "multi_head": lambda t: rv.multi_head_attention(Q, K, V, 4, threads=t),
        "multi_head_weights": lambda t: np.concatenate(
            [a.ravel() for a in rv.multi_head_attention(Q, K, V, 4, return_weights=True, threads=t)]),
    }
    for name, call in calls.items():
        one = call(1).tobytes()
        for t in (2, 8, None):
            assert call(t).tobytes() == one, f"{name} with threads={t} differs from threads=1"
    assert_close(calls["scaled_dot"](8), ref.scaled_dot_attention(Q, K, V), attention_scale(Q, K, V))
    assert_close(calls["multi_head"](8), ref.multi_head_attention(Q, K, V, 4)[0], attention_scale(Q, K, V, heads=4))


def test_bit_identical_with_the_default_threshold(backend, rng):
    # big enough for the core's own threshold (2**20 floats of K+V per thread): 2 threads
    Q, K, V = _inputs(rng, 6, 5000, 32, 32)
    for call in (lambda t: rv.scaled_dot_attention(Q, K, V, threads=t),
                 lambda t: rv.multi_head_attention(Q, K, V, 4, threads=t),
                 lambda t: rv.flash_attention(Q, K, V, 64, threads=t)):
        assert call(1).tobytes() == call(2).tobytes() == call(8).tobytes()


def test_many_python_threads_at_once(backend, rng, forced_threads):
    Q, K, V = _inputs(rng, 4, 200, 16, 8)
    jobs = [
        lambda: rv.softmax(K[:, 0]),
        lambda: rv.attention_scores(Q, K),
        lambda: rv.attention_scores(Q[0], K, "multi_head"),
        lambda: rv.scaled_dot_attention(Q, K, V, threads=2),
        lambda: rv.flash_attention(Q, K, V, 16, threads=3),
        lambda: rv.multi_head_attention(Q, K, V, 2, threads=2),
        lambda: np.array([rv.attention_score(Q[0], K[1])], np.float32),
    ]
    expected = [job().tobytes() for job in jobs]

    def worker(seed):
        order = np.random.default_rng(seed).permutation(len(jobs) * 30) % len(jobs)
        return all(jobs[i]().tobytes() == expected[i] for i in order)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(worker, range(8)))


def test_switching_backends_while_other_threads_compute(rng):
    Q, K, V = _inputs(rng, 8, 500, 32, 16)
    expected = ref.scaled_dot_attention(Q, K, V)
    bar = attention_scale(Q, K, V)
    stop = threading.Event()
    flips = []

    def flipper():
        names = rv.supported_backends() + ["auto"]
        i = 0
        while not stop.is_set():
            rv.set_backend(names[i % len(names)])
            i += 1
        flips.append(i)

    def worker(_):
        for _ in range(40):
            assert_close(rv.scaled_dot_attention(Q, K, V, threads=2), expected, bar)
            assert_close(rv.flash_attention(Q, K, V, 32), expected, bar)
        return True

    before = rv.simd_backend()
    t = threading.Thread(target=flipper)
    t.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            assert all(pool.map(worker, range(4)))
    finally:
        stop.set()
        t.join()
        rv.set_backend(before)
    assert flips and flips[0] > 1


def test_the_gil_is_released_during_compute(rng):
    # while one thread is inside a long C call (scalar kernels: ~0.1 s), this
    # thread keeps running
    Q, K, V = _inputs(rng, 400, 4096, 64, 64)
    span = {}

    def long_call():
        with rv.use_backend("scalar"):
            span["start"] = time.perf_counter()
            rv.scaled_dot_attention(Q, K, V, threads=1)
            span["end"] = time.perf_counter()

    worker = threading.Thread(target=long_call)
    ticks = []
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
        time.sleep(0.0005)
    worker.join()
    duration = span["end"] - span["start"]
    inside = [t for t in ticks if span["start"] + 0.1 * duration < t < span["end"] - 0.1 * duration]
    assert duration > 0.02, "the call is too short to tell"
    # with the GIL held for the whole call there would be no tick inside it
    assert len(inside) >= 3, f"{len(inside)} ticks during a {duration * 1e3:.1f} ms call"


@pytest.mark.parametrize(
    "call",
    [
        lambda Q, K, V: rv.scaled_dot_attention(Q, K, V, threads=4),
        lambda Q, K, V: rv.flash_attention(Q, K, V, threads=4),
        lambda Q, K, V: rv.multi_head_attention(Q, K, V, 2, threads=4),
        lambda Q, K, V: rv.multi_head_attention(Q, K, V, 2, return_weights=True, threads=4),
    ],
    ids=["scaled_dot", "flash", "multi_head", "multi_head_weights"],
)
def test_thread_start_failure_raises(rng, forced_threads, call):
    Q, K, V = _inputs(rng, 6, 20, 8, 4)
    expected = call(Q, K, V)
    rv._fail_thread_starts(2)
    try:
        with pytest.raises(rv.ThreadStartError, match="^could not start a worker thread$") as e:
            call(Q, K, V)
    finally:
        rv._fail_thread_starts(0)
    assert isinstance(e.value, RuntimeError) and e.value.status == _binding.lib.RV_ERR_THREAD
    # the hook is spent or reset: the next call works and gives the same result
    again = call(Q, K, V)
    for a, b in zip(expected if isinstance(expected, tuple) else (expected,),
                    again if isinstance(again, tuple) else (again,)):
        assert a.tobytes() == b.tobytes()
