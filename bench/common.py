"""Shared machinery of the ruvector benchmarks (bench/bench_*.py).

Timing: every competitor of a comparison is a :class:`Case`.  :func:`measure`
calibrates each case to run about ``min_time`` per trial, then runs the trials
interleaved (trial t of every case before trial t+1 of any, in a rotating
order), so that a slow phase of a shared machine hits all competitors alike.
A trial is ``reps`` calls timed with ``time.perf_counter_ns``; its value is the
time per call.  Results are the median and the min-max of the trials.  A
single-threaded trial during which the thread got less than 85% of the CPU
(``time.thread_time_ns`` against the wall clock: it was descheduled) is run
again, up to twice; so is a multi-threaded trial during which some runnable
task waited for a CPU more than 10% of the time (Linux PSI,
/proc/pressure/cpu): on two cores, one busy neighbour stalls every join.

Anchors: :class:`ReadProbe` measures how fast this machine reads an array of a
given size (cache-resident or from DRAM) with a small C loop (bench/readbw.c)
built at run time, next to numpy's and torch's reductions; the fastest is the
machine's read rate, and decode results are reported as a share of it.

A noisy neighbour: before each comparison :class:`Quiet` waits (within a
budget) until the other processes leave the CPUs alone, and the results say
how many comparisons still started on a busy machine.

Environment: :func:`threads` pins numpy's BLAS (threadpoolctl) and torch's
intra-op pool to a thread count; ruvector gets ``threads=`` explicitly.

Each script writes ``<out>/<family>.json`` (default bench/results/, or
bench/results/quick/ with --quick); bench/report.py turns them into
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as _dt
import gc
import hashlib
import itertools
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
F32 = np.float32

try:  # optional: only the smoke mode may run without it
    import threadpoolctl
except ImportError:  # pragma: no cover - depends on the environment
    threadpoolctl = None


def optional_torch() -> Any:
    """torch, or None (with a printed note) when it is not installed."""
    try:
        import torch
    except ImportError:
        note("torch is not installed: its columns are skipped (pip install torch==2.13.0)")
        return None
    return torch


def note(msg: str) -> None:
    print(f"  note: {msg}", flush=True)


# ---------------------------------------------------------------- command line


@dataclass
class Config:
    quick: bool
    out: Path
    trials: int
    min_time: float  # seconds per trial
    argv: List[str] = field(default_factory=list)


def parse_args(script: str, description: str, trials: int = 7, min_time: float = 0.02,
               extra: Optional[Callable[[argparse.ArgumentParser], None]] = None,
               argv: Optional[Sequence[str]] = None) -> tuple[Config, argparse.Namespace]:
    """The options every benchmark takes; ``extra`` adds its own.  ``script``
    (the caller's __file__) names the command recorded with the results."""
    p = argparse.ArgumentParser(prog=Path(script).name, description=description)
    p.add_argument("--quick", action="store_true",
                   help="smoke mode: tiny sizes, few repetitions (a few seconds); "
                        "results go to bench/results/quick/")
    p.add_argument("--out", type=Path, default=None, help="directory of the JSON results")
    p.add_argument("--trials", type=int, default=None, help=f"trials per case (default {trials}, quick 3)")
    p.add_argument("--min-time", type=float, default=None,
                   help=f"seconds per trial (default {min_time}, quick 0.002)")
    p.add_argument("--wait-quiet", type=float, default=None,
                   help="seconds this run may wait in total for other processes to go quiet before a "
                        "comparison (default 60, quick 0)")
    if extra:
        extra(p)
    a = p.parse_args(argv)
    Quiet.budget = a.wait_quiet if a.wait_quiet is not None else (0.0 if a.quick else 60.0)
    Quiet.waited = 0.0
    Quiet.started_busy = Quiet.comparisons = 0
    cfg = Config(
        quick=a.quick,
        out=a.out or (RESULTS / "quick" if a.quick else RESULTS),
        trials=a.trials or (3 if a.quick else trials),
        min_time=a.min_time or (0.002 if a.quick else min_time),
        argv=[Path(script).name, *(sys.argv[1:] if argv is None else argv)],
    )
    return cfg, a


# ---------------------------------------------------------------- machine


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _size(text: str) -> int:
    """'32768K' -> bytes."""
    text = text.strip()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:].upper(), 1)
    digits = text.rstrip("KkMmGg")
    return int(digits) * mult if digits.isdigit() else 0


def caches() -> Dict[str, int]:
    """Cache sizes of cpu0 from sysfs: {'L1d': bytes, 'L2': ..., 'L3': ...}."""
    out: Dict[str, int] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        level, kind = _read(str(idx / "level")), _read(str(idx / "type"))
        if kind == "Instruction":
            continue
        name = f"L{level}" + ("d" if kind == "Data" else "")
        out[name] = _size(_read(str(idx / "size")))
    return out


def l2_bytes() -> int:
    return caches().get("L2", 1 << 20)


def l3_bytes() -> int:
    """L3 size (32 MiB on the EPYC Zen4 machines); 32 MiB when sysfs says nothing."""
    return caches().get("L3", 32 << 20) or (32 << 20)


def cpu_model() -> Dict[str, Any]:
    info: Dict[str, Any] = {"model_name": platform.processor() or platform.machine()}
    fields: Dict[str, str] = {}
    for line in _read("/proc/cpuinfo").splitlines():
        if ":" not in line:
            if fields:
                break
            continue
        k, v = (s.strip() for s in line.split(":", 1))
        fields.setdefault(k, v)
    if fields:
        info["model_name"] = fields.get("model name", info["model_name"])
        info["vendor"] = fields.get("vendor_id", "")
        info["family"] = fields.get("cpu family", "")
        info["model"] = fields.get("model", "")
        flags = set(fields.get("flags", fields.get("Features", "")).split())
        info["simd_flags"] = sorted(flags & {"avx2", "fma", "avx512f", "avx512bw", "avx512vl",
                                             "avx512_bf16", "avx512_vnni", "asimd", "sve"})
    info["logical_cpus"] = os.cpu_count()
    info["caches"] = caches()
    return info


def blas_info() -> List[Dict[str, Any]]:
    """threadpoolctl's view of the native thread pools (numpy's BLAS, torch's OpenMP)."""
    if threadpoolctl is None:
        return [{"note": "threadpoolctl not installed"}]
    out = []
    for lib in threadpoolctl.threadpool_info():
        out.append({k: (Path(v).name if k == "filepath" else v) for k, v in lib.items()})
    return out


def numpy_blas() -> str:
    """One line: which BLAS numpy runs and which kernel set it picked."""
    for lib in blas_info():
        if lib.get("user_api") == "blas":
            return (f"{lib.get('internal_api')} {lib.get('version')} "
                    f"(kernel {lib.get('architecture')}, {lib.get('filepath')})")
    return "unknown (threadpoolctl not installed)" if threadpoolctl is None else "no BLAS found"


def machine_info() -> Dict[str, Any]:
    import ruvector_cffi as rv

    info: Dict[str, Any] = {
        "cpu": cpu_model(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "threadpools": blas_info(),
        "ruvector": rv.__version__,
        "ruvector_backend": rv.simd_backend(),
        "ruvector_backends": rv.supported_backends(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def cpu_pressure_us() -> Optional[int]:
    """Total microseconds during which some runnable task waited for a CPU
    (Linux PSI, /proc/pressure/cpu), or None where PSI is not available."""
    try:
        with open("/proc/pressure/cpu") as f:
            return int(f.readline().rsplit("total=", 1)[1])
    except (OSError, IndexError, ValueError):
        return None


def _stat_ticks() -> Optional[tuple[int, int]]:
    """(busy, total) clock ticks of all CPUs from /proc/stat; steal counts as busy."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    total = sum(v[:8])
    return total - idle, total


def others_busy(window: float = 0.1) -> Optional[float]:
    """How many CPUs everything but this process kept busy during `window`
    seconds (this process sleeps meanwhile), or None without /proc/stat."""
    a, p0 = _stat_ticks(), time.process_time()
    time.sleep(window)
    b, p1 = _stat_ticks(), time.process_time()
    if a is None or b is None or b[1] == a[1]:
        return None
    cpus = (b[0] - a[0]) / (b[1] - a[1]) * (os.cpu_count() or 1)
    return max(0.0, cpus - (p1 - p0) / window)


class Quiet:
    """Waiting for a quiet machine before each comparison: up to
    ``per_wait`` seconds until the other processes use less than a quarter
    of a CPU, within a total ``budget`` per run (0 = never wait).  Counts how
    many comparisons still started on a busy machine."""

    budget = 0.0
    per_wait = 10.0
    waited = 0.0
    started_busy = 0
    comparisons = 0

    @classmethod
    def wait(cls) -> None:
        cls.comparisons += 1
        if cls.budget <= cls.waited:
            return
        t0 = time.time()
        while True:
            busy = others_busy()
            if busy is None or busy < 0.25:
                break
            if time.time() - t0 >= min(cls.per_wait, cls.budget - cls.waited):
                cls.started_busy += 1
                break
        cls.waited += time.time() - t0


def loadavg() -> List[float]:
    try:
        return [float(x) for x in _read("/proc/loadavg").split()[:3]]
    except ValueError:
        return []


# ---------------------------------------------------------------- threads


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """numpy's BLAS and torch's intra-op pool limited to n threads inside."""
    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    ctx = threadpoolctl.threadpool_limits(limits=n) if threadpoolctl else contextlib.nullcontext()
    try:
        with ctx:
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(old)


# ---------------------------------------------------------------- timing


@dataclass
class Case:
    """One competitor: ``calls`` are cycled through (one callable = hot; a
    pool of callables over distinct arrays = cold); each call does ``units``
    units of work and times are reported per unit.  A trial is checked for a
    busy machine through the calling thread's CPU time when the work runs on
    that thread alone (``threads`` == 1 and not ``remote``), otherwise through
    the CPU pressure: set ``remote`` when the work runs in another process
    (a PostgreSQL backend), where the client thread only waits."""

    name: str
    calls: Sequence[Callable[[], Any]]
    units: int = 1
    threads: int = 1
    remote: bool = False


@dataclass
class Stats:
    median: float  # seconds per unit
    min: float
    max: float
    samples: List[float]
    reps: int
    retried: int

    def as_dict(self) -> Dict[str, Any]:
        return {"median": self.median, "min": self.min, "max": self.max,
                "samples": self.samples, "reps": self.reps, "retried": self.retried}


def _runner(calls: Sequence[Callable[[], Any]]) -> Callable[[int], None]:
    if len(calls) == 1:
        f = calls[0]

        def run(reps: int) -> None:
            for _ in itertools.repeat(None, reps):
                f()
    else:
        it = itertools.cycle(calls)  # continues across trials: a pool is never restarted

        def run(reps: int) -> None:
            for f in itertools.islice(it, reps):
                f()
    return run


def measure(cases: Sequence[Case], cfg: Config, max_reps: int = 1_000_000) -> Dict[str, Stats]:
    """Median and min-max seconds per unit of every case, trials interleaved."""
    target = cfg.min_time * 1e9
    runs, reps = {}, {}
    gc_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for c in cases:
            run = runs[c.name] = _runner(c.calls)
            run(1)  # warm-up (and first touch of lazily built things)
            r = 1
            while True:
                t0 = time.perf_counter_ns()
                run(r)
                dt = time.perf_counter_ns() - t0
                if dt >= target * 0.5 or r >= max_reps:
                    break
                r = min(max_reps, max(2 * r, int(r * target / max(dt, 1))))
            reps[c.name] = max(1, min(max_reps, round(r * target / max(dt, 1))))
        Quiet.wait()
        samples: Dict[str, List[float]] = {c.name: [] for c in cases}
        retried = {c.name: 0 for c in cases}
        for t in range(cfg.trials):
            order = list(cases[t % len(cases):]) + list(cases[:t % len(cases)])
            for c in order:
                r, run = reps[c.name], runs[c.name]
                by_pressure = c.threads > 1 or c.remote
                for attempt in range(3):
                    p0 = cpu_pressure_us() if by_pressure else None
                    c0 = time.thread_time_ns()
                    t0 = time.perf_counter_ns()
                    run(r)
                    dt = time.perf_counter_ns() - t0
                    if by_pressure:
                        p1 = cpu_pressure_us()
                        ok = p0 is None or p1 is None or (p1 - p0) * 1e3 <= 0.1 * dt
                    else:
                        ok = time.thread_time_ns() - c0 >= 0.85 * dt
                    if ok or attempt == 2:
                        break
                    retried[c.name] += 1
                samples[c.name].append(dt / 1e9 / (r * c.units))
    finally:
        if gc_enabled:
            gc.enable()
    out = {}
    for c in cases:
        s = samples[c.name]
        out[c.name] = Stats(float(np.median(s)), float(min(s)), float(max(s)), s, reps[c.name], retried[c.name])
    return out


def measure_with(cases: Sequence[Case], cfg: Config, nthreads: int = 1) -> Dict[str, Stats]:
    """:func:`measure` with numpy's BLAS and torch limited to nthreads, and
    torch (when loaded) in inference mode."""
    torch = sys.modules.get("torch")
    with threads(nthreads), (torch.inference_mode() if torch is not None else contextlib.nullcontext()):
        return measure(cases, cfg)


def fmt_time(seconds: float) -> str:
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def gbps(nbytes: float, seconds: float) -> float:
    return nbytes / seconds / 1e9


# ---------------------------------------------------------------- correctness


def check_close(what: str, got: Any, ref: np.ndarray, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    """Every competitor must compute the same thing before it is timed."""
    g = np.asarray(got, dtype=np.float64).reshape(ref.shape)
    if not np.allclose(g, ref, rtol=rtol, atol=atol):
        err = np.max(np.abs(g - ref) / (np.abs(ref) + atol))
        raise AssertionError(f"{what}: result differs from the float64 reference (max rel err {err:.3g})")


def reference_attention(q: np.ndarray, K: np.ndarray, V: np.ndarray, scale: float) -> np.ndarray:
    """float64 scaled dot-product attention of one query."""
    s = K.astype(np.float64) @ q.astype(np.float64) * scale
    w = np.exp(s - s.max())
    out: np.ndarray = (w / w.sum()) @ V.astype(np.float64)
    return out


def numpy_attention(q: np.ndarray, K: np.ndarray, V: np.ndarray, scale: np.float32) -> np.ndarray:
    """The fastest plain-numpy decode: two BLAS matvecs (sgemv) and a stable
    softmax done in place on the n logits; the scale is folded into q and the
    normalisation into the dv outputs.  All float32 (scale must be a float32:
    a float64 scalar would promote q and make K @ q a float64 product)."""
    s = K @ (q * scale)
    s -= s.max()
    np.exp(s, out=s)
    o: np.ndarray = s @ V
    o /= s.sum()
    return o


def make_kv(n: int, d: int, dv: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return (rng.standard_normal((n, d), dtype=F32), rng.standard_normal((n, dv), dtype=F32))


def kv_pool(K: np.ndarray, V: np.ndarray, min_total: int, min_count: int = 2) -> List[tuple[np.ndarray, np.ndarray]]:
    """Distinct copies of (K, V) whose total size exceeds min_total bytes, for
    cold runs: cycling through them, every call reads its K and V from DRAM."""
    per = K.nbytes + V.nbytes
    count = max(min_count, -(-min_total // per) + 1)
    return [(K.copy(), V.copy()) for _ in range(count)]


def cold_bytes(quick: bool) -> int:
    """Total pool size of a cold run: twice the L3 (the L3 of Zen4 is a victim
    cache: lines evicted from L2 go there, so a pool of 2x L3 is long gone
    when the cycle comes back).  The smoke mode only exercises the path."""
    return 4 << 20 if quick else 2 * l3_bytes()


# ---------------------------------------------------------------- read-bandwidth probe


class ReadProbe:
    """How fast this machine reads memory, for the anchors.

    ``c`` is bench/readbw.c compiled with the system C compiler (GCC gives it
    AVX-512/AVX2/baseline clones); if that fails the probe still works with
    numpy's and torch's reductions only, and says so in ``kernels``."""

    def __init__(self) -> None:
        self.lib: Any = None
        self.error = ""
        try:
            self.lib = self._load()
        except Exception as e:  # no compiler, odd platform: numpy probes only
            self.error = f"{type(e).__name__}: {e}"
            note(f"C read probe unavailable ({self.error}); using numpy/torch reductions only")

    @staticmethod
    def _load() -> Any:
        src = BENCH / "readbw.c"
        cc = os.environ.get("CC") or str(sysconfig.get_config_var("CC") or "cc").split()[0]
        if shutil.which(cc) is None:
            cc = "cc"
        flags = ["-O2", "-std=gnu11", "-shared", "-fPIC", "-pthread"]
        tag = hashlib.sha1(src.read_bytes() + " ".join([cc, *flags]).encode()).hexdigest()[:12]
        so = RESULTS / ".build" / f"readbw-{tag}.so"
        if not so.exists():
            so.parent.mkdir(parents=True, exist_ok=True)
            tmp = so.with_suffix(f".{os.getpid()}.tmp")
            subprocess.run([cc, *flags, str(src), "-o", str(tmp)], check=True, capture_output=True, text=True)
            os.replace(tmp, so)
        lib = ctypes.CDLL(str(so))
        lib.rb_read.restype = ctypes.c_float
        lib.rb_read.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
        lib.rb_read_mt.restype = ctypes.c_float
        lib.rb_read_mt.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int]
        return lib

    @property
    def kernel_name(self) -> str:
        return "C loop (bench/readbw.c)" if self.lib else "numpy sdot"

    def _call(self, a: np.ndarray, reps: int, nthreads: int) -> Callable[[], Any]:
        """One read of the float32 array `a` (repeated `reps` times); the
        callable holds a reference to `a`, whose memory C reads."""
        if self.lib is None:
            return lambda: [np.dot(a, a) for _ in range(reps)]
        assert a.dtype == F32 and a.flags.c_contiguous
        ptr, n, lib = a.ctypes.data, a.size, self.lib

        def read(keep: np.ndarray = a) -> Any:
            if nthreads == 1:
                return lib.rb_read(ptr, n, reps)
            return lib.rb_read_mt(ptr, n, reps, nthreads)
        return read

    def hot_case(self, name: str, buf: np.ndarray, nthreads: int = 1, per_call: float = 50e-6) -> Case:
        """Read rate of the cache-resident float32 array ``buf`` (repeated in C,
        so that the ctypes call costs nothing); per unit = one pass."""
        reps = max(1, int(per_call * 100e9 / max(buf.nbytes, 1)))
        if nthreads > 1:
            reps = max(reps, int(1e-3 * 100e9 / max(buf.nbytes, 1)))  # amortise the thread starts
        return Case(name, [self._call(buf, reps, nthreads)], units=reps, threads=nthreads)

    def cold_case(self, name: str, pool: Sequence[Sequence[np.ndarray]], nthreads: int = 1) -> Case:
        """Read rate from DRAM: one pass over each group of arrays (a K, V pair)
        of a pool > 2x L3, in turn; per unit = one group."""
        def group(arrays: Sequence[np.ndarray]) -> Callable[[], Any]:
            fs = [self._call(a, 1, nthreads) for a in arrays]
            return lambda: [f() for f in fs]
        return Case(name, [group(g) for g in pool], threads=nthreads)

    def survey(self, sizes: Sequence[int], cfg: Config, nthreads: Sequence[int] = (1,),
               dram: Optional[int] = None) -> Dict[str, Any]:
        """Read rates (GB/s, medians) of several kernels for arrays of the
        given sizes, hot, and of one large array (> 8x L3) from DRAM: the
        C loop, numpy sdot (np.dot(a, a)), numpy sgemv (ones @ A) and
        numpy sum, torch.sum.  The best kernel is the machine's read rate."""
        torch = sys.modules.get("torch")
        rows = []
        dram = dram or (max(256 << 20, 8 * l3_bytes()) if not cfg.quick else 16 << 20)
        for nbytes, label in [*((s, "hot") for s in sizes), (dram, "dram")]:
            a = np.random.default_rng(0).random(nbytes // 4, dtype=F32)
            A = a[: a.size - a.size % 256].reshape(-1, 256)
            ones = np.ones(A.shape[0], F32)
            ta = torch.from_numpy(a) if torch is not None else None
            for nt in nthreads:
                with threads(nt):
                    cases = []
                    if self.lib is not None:
                        cases.append(self.hot_case("C loop", a, nt) if label == "hot"
                                     else Case("C loop", [self._call(a, 1, nt)], threads=nt))
                    cases += [Case("numpy sdot", [lambda: np.dot(a, a)], threads=nt),
                              Case("numpy sgemv", [lambda: ones @ A], threads=nt),
                              Case("numpy sum", [lambda: np.add.reduce(a)], threads=nt)]
                    if ta is not None:
                        cases.append(Case("torch.sum", [lambda: ta.sum()], threads=nt))
                    st = measure(cases, cfg)
                rates = {k: gbps(nbytes, v.median) for k, v in st.items()}
                best = max(rates, key=rates.__getitem__)
                rows.append({"bytes": nbytes, "kind": label, "threads": nt, "gbps": rates,
                             "best": best, "best_gbps": rates[best],
                             "stats": {k: v.as_dict() for k, v in st.items()}})
        return {"kernel": self.kernel_name, "error": self.error, "rows": rows}


# ---------------------------------------------------------------- results


def command_line(cfg: Config) -> str:
    return " ".join(shlex.quote(x) for x in [f"bench/{cfg.argv[0]}", *cfg.argv[1:]])


class Results:
    """Collects one family's results and writes <out>/<family>.json."""

    def __init__(self, family: str, cfg: Config):
        self.family, self.cfg = family, cfg
        self.t0 = time.time()
        self.data: Dict[str, Any] = {
            "family": family,
            "meta": {
                "command": command_line(cfg),
                "quick": cfg.quick,
                "trials": cfg.trials,
                "min_time_s": cfg.min_time,
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "loadavg_start": loadavg(),
                "cpu_pressure_start_us": cpu_pressure_us(),
                "machine": machine_info(),
            },
            "notes": [],
        }
        print(f"== {family} ({'quick' if cfg.quick else 'full'}; "
              f"{cfg.trials} trials x {cfg.min_time * 1e3:g} ms)", flush=True)

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def note(self, msg: str) -> None:
        note(msg)
        self.data["notes"].append(msg)

    def write(self) -> Path:
        meta = self.data["meta"]
        meta["duration_s"] = round(time.time() - self.t0, 1)
        meta["loadavg_end"] = loadavg()
        meta["quiet"] = {"budget_s": Quiet.budget, "waited_s": round(Quiet.waited, 1),
                         "comparisons": Quiet.comparisons, "started_busy": Quiet.started_busy}
        p0, p1 = meta.get("cpu_pressure_start_us"), cpu_pressure_us()
        if p0 is not None and p1 is not None and meta["duration_s"] > 0:
            # share of the run during which some task waited for a CPU: how busy the neighbours were
            meta["cpu_pressure_share"] = round((p1 - p0) / 1e6 / meta["duration_s"], 3)
        self.cfg.out.mkdir(parents=True, exist_ok=True)
        path = self.cfg.out / f"{self.family}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=_json_default))
        os.replace(tmp, path)
        print(f"   wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
              f"({meta['duration_s']} s)", flush=True)
        return path


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Stats):
        return o.as_dict()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# ---------------------------------------------------------------- PostgreSQL


def pg_connect(dsn: Optional[str] = None) -> Any:
    """A psycopg connection (autocommit) to the server of the PG* environment
    or ``dsn``, or None with a printed note when there is none to reach."""
    if dsn is None and not (os.environ.get("PGHOST") or os.environ.get("PGDATABASE")):
        note("no PostgreSQL server (PGHOST is not set; run through tools/with-temp-pg.sh): SQL parts skipped")
        return None
    try:
        import psycopg
    except ImportError:
        note("psycopg is not installed: SQL parts skipped")
        return None
    try:
        return psycopg.connect(dsn or "", autocommit=True)
    except Exception as e:
        note(f"cannot connect to PostgreSQL ({type(e).__name__}: {e}): SQL parts skipped")
        return None


def pg_ensure_ruvector(conn: Any) -> str:
    """Make sure the extension (or its alias) is installed; returns its name."""
    row = conn.execute("SELECT extname FROM pg_extension WHERE extname IN ('ruvector', 'ruvector_postgres')").fetchone()
    if row:
        return str(row[0])
    conn.execute("CREATE EXTENSION ruvector")
    return "ruvector"


def pg_server_info(conn: Any) -> Dict[str, Any]:
    info = {"version": conn.execute("SHOW server_version").fetchone()[0]}
    try:
        row = conn.execute("SELECT active, best FROM ruvector_simd_info()").fetchone()
        info["ruvector_simd"] = {"active": row[0], "best": row[1]}
    except Exception as e:  # older builds: not essential
        info["ruvector_simd"] = f"unknown ({type(e).__name__})"
    for guc in ("shared_buffers", "work_mem", "jit"):
        info[guc] = conn.execute(f"SHOW {guc}").fetchone()[0]
    return info
