"""GPU benchmarks of gpu_accelerator (run by scripts/gpu_check.sh).

    python -m superinstance.bench.gpu_accelerator [--json out.json] [--quick]

Measures, in one process run: the launch cost of a chain of 10 and 100 tiny
kernels (per kernel: individual stream launches vs one graph replay, host
clock, median); host<->device bandwidth at 256 MiB, pageable vs pinned (CUDA
events, median); sentiment head latency for batch 1 and 256 (graph replay vs
eager launch vs the CPU backend, including the copies in and out). Without a
usable GPU it reports ``{"skipped": reason}`` and exits 0.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from typing import Any, Dict, List

import numpy as np

from ..gpu_accelerator.devices import backend_reason, cuda_module, default_backend, devices
from .table import best_peer_ratio, row, write_json

_TORCH: List[Any] = []  # [module or None] once looked up


def torch_module() -> Any:
    """PyTorch, the optional peer of the CPU comparison, or None when it does not import
    (imported on first use: it takes seconds, and only the --cpu comparison needs it)."""
    if not _TORCH:
        try:
            import torch
        except (ImportError, OSError):  # OSError: a torch whose native libraries do not load
            torch = None
        _TORCH.append(torch)
    return _TORCH[0]


# ---------------------------------------------------------------- CPU peers
def sentiment_numpy(w):
    """The sentiment head in float32 numpy (a peer for the CPU comparison)."""
    w1t, b1, w2t, b2 = w["w1"].T.copy(), w["b1"], w["w2"].T.copy(), w["b2"]

    def f(x):
        z = np.maximum(x @ w1t + b1, 0) @ w2t + b2
        return np.stack([np.tanh(z[:, 0]), 1 / (1 + np.exp(-z[:, 1])), 1 / (1 + np.exp(-z[:, 2]))], 1)

    return f


def sentiment_torch(w):
    """The sentiment head in PyTorch (CPU, float32, no_grad)."""
    torch = torch_module()
    t = {k: torch.from_numpy(v) for k, v in w.items()}
    F = torch.nn.functional

    def f(x):
        with torch.no_grad():
            z = F.linear(torch.relu(F.linear(torch.from_numpy(x), t["w1"], t["b1"])), t["w2"], t["b2"])
            return torch.stack([torch.tanh(z[:, 0]), torch.sigmoid(z[:, 1]), torch.sigmoid(z[:, 2])], 1).numpy()

    return f


def cosine_numpy(q, k):
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    kn = k / np.linalg.norm(k, axis=1, keepdims=True)
    return qn @ kn.T


def cosine_torch(q, k):
    torch = torch_module()
    with torch.no_grad():
        F = torch.nn.functional
        return (F.normalize(torch.from_numpy(q), dim=1) @ F.normalize(torch.from_numpy(k), dim=1).T).numpy()


def cpu_compare(rounds: int = 30) -> Dict[str, Any]:
    """CPU twin vs numpy (and torch) on the same inputs, calls interleaved round by round
    so that machine noise hits every implementation alike; medians in microseconds."""
    torch = torch_module()
    from ..gpu_accelerator.models import SentimentHead, cosine_similarity

    head = SentimentHead.default(backend="cpu")
    rng = np.random.default_rng(0)
    cases = []
    for batch in (1, 256):
        x = rng.standard_normal((batch, head.in_features)).astype(np.float32)
        impls = {"superinstance": head.predict, "numpy": sentiment_numpy(head.weights)}
        if torch is not None:
            impls["torch"] = sentiment_torch(head.weights)
        cases.append((f"sentiment head, batch {batch}", impls, (x,), 200 if batch == 1 else 50))
    keys = rng.standard_normal((10_000, 384)).astype(np.float32)
    for m in (1, 64):
        q = rng.standard_normal((m, 384)).astype(np.float32)
        impls = {"superinstance": lambda q, k: cosine_similarity(q, k, backend="cpu"),
                 "numpy": cosine_numpy}
        if torch is not None:
            impls["torch"] = cosine_torch
        cases.append((f"cosine {m} x 10k x 384", impls, (q, keys), 1))
    results = []
    for name, impls, args, inner in cases:
        ref = impls["numpy"](*args)
        for f in impls.values():
            np.testing.assert_allclose(np.asarray(f(*args)).reshape(ref.shape), ref, rtol=1e-4, atol=1e-5)
        times: Dict[str, List[float]] = {k: [] for k in impls}
        for _ in range(rounds):
            for k, f in impls.items():
                t0 = time.perf_counter_ns()
                for _ in range(inner):
                    f(*args)
                times[k].append((time.perf_counter_ns() - t0) / 1e3 / inner)
        med = {k: statistics.median(v) for k, v in times.items()}
        results.append({"case": name, "median_us": med,
                        "ratio_vs_numpy": med["numpy"] / med["superinstance"],
                        **({"ratio_vs_torch": med["torch"] / med["superinstance"]} if "torch" in med else {})})
    return {"rounds": rounds, "torch": torch.__version__ if torch is not None else None,
            "numpy": np.__version__, "results": results}


def cpu_table(r: Dict[str, Any]) -> str:
    lines = ["| case | superinstance (CPU) | numpy | torch | numpy/ours time | torch/ours time |",
             "|---|---|---|---|---|---|"]
    for x in r["results"]:
        m = x["median_us"]
        t = f"{m['torch']:.1f} us" if "torch" in m else "-"
        rt = f"{x['ratio_vs_torch']:.2f}x" if "ratio_vs_torch" in x else "-"
        lines.append(f"| {x['case']} | {m['superinstance']:.1f} us | {m['numpy']:.1f} us | {t} | "
                     f"{x['ratio_vs_numpy']:.2f}x | {rt} |")
    return "\n".join(lines)


def _median_us(fn, repeats: int) -> float:
    for _ in range(min(20, repeats)):
        fn()
    ts: List[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        fn()
        ts.append((time.perf_counter_ns() - t0) / 1e3)
    return statistics.median(ts)


def sentiment_latency(batch: int, repeats: int) -> Dict[str, float]:
    from ..gpu_accelerator.graph import Graph
    from ..gpu_accelerator.memory import DeviceArray, PinnedBuffer, Stream
    from ..gpu_accelerator.models import SentimentHead

    gpu = SentimentHead.default(backend="cuda")
    cpu = SentimentHead.default(backend="cpu")
    x = np.random.default_rng(0).standard_normal((batch, gpu.in_features)).astype(np.float32)
    res: Dict[str, float] = {"batch": batch}
    with Stream() as s, DeviceArray(x.shape) as dx, DeviceArray((batch, 3)) as dout, \
            PinnedBuffer(x.shape) as px, PinnedBuffer((batch, 3)) as pout, Graph() as g:
        px.array[...] = x

        def eager():
            dx.copy_from_host(px.array, s)
            gpu.forward_device(dx, dout, s)
            dout.to_host(pout.array, s)
            s.synchronize()

        with g.capture(s):
            gpu.forward_device(dx, dout, s)
        g.instantiate()
        g.upload(s)

        def graph():
            dx.copy_from_host(px.array, s)
            g.launch(s)
            dout.to_host(pout.array, s)
            s.synchronize()

        res["eager_us"] = _median_us(eager, repeats)
        res["graph_us"] = _median_us(graph, repeats)
        graph()
        if not np.allclose(pout.array, cpu.predict(x), rtol=1e-5, atol=1e-6):
            raise AssertionError("sentiment head: GPU and CPU results differ")
    res["predict_us"] = _median_us(lambda: gpu.predict(x), repeats)  # public API: graph plan
    res["cpu_us"] = _median_us(lambda: cpu.predict(x), repeats)
    gpu.close()
    return res


def run(quick: bool = False) -> Dict[str, Any]:
    out: Dict[str, Any] = {"python": platform.python_version(), "host": platform.node()}
    if default_backend() != "cuda":
        out["skipped"] = backend_reason()
        return out
    out["device"] = devices()[0].as_dict()
    reps = 50 if quick else 300
    out["launch"] = [launch_chain(n, reps) for n in (10, 100)]
    out["bandwidth"] = copy_bandwidth(256 << 20, 3 if quick else 7)
    out["sentiment"] = [sentiment_latency(b, 100 if quick else 1000) for b in (1, 256)]
    return out


def table(r: Dict[str, Any]) -> str:
    if "skipped" in r:
        return f"GPU benchmarks skipped: {r['skipped']}"
    d = r["device"]
    lines = [f"GPU benchmarks on {d['name']} (sm_{d['compute_capability'][0]}{d['compute_capability'][1]})",
             "| what | stream/eager | graph | graph/eager time |", "|---|---|---|---|"]
    for x in r["launch"]:
        lines.append(f"| chain of {x['chain']} tiny kernels, us/kernel | {x['stream_us_per_kernel']:.2f} | "
                     f"{x['graph_us_per_kernel']:.2f} (graph launch call {x['graph_launch_us']:.1f} us) | "
                     f"{x['graph_us_per_kernel'] / x['stream_us_per_kernel']:.2f} |")
    for x in r["sentiment"]:
        lines.append(f"| sentiment head batch {x['batch']}, us (copies included) | {x['eager_us']:.1f} | "
                     f"{x['graph_us']:.1f} | {x['graph_us'] / x['eager_us']:.2f} (predict() {x.get('predict_us', float('nan')):.1f} us, "
                     f"CPU backend {x['cpu_us']:.1f} us) |")
    b = r["bandwidth"]
    lines.append(f"| 256 MiB H2D GB/s pageable / pinned | {b['pageable_h2d_gbps']:.1f} | {b['pinned_h2d_gbps']:.1f} | |")
    lines.append(f"| 256 MiB D2H GB/s pageable / pinned | {b['pageable_d2h_gbps']:.1f} | {b['pinned_d2h_gbps']:.1f} | |")
    return "\n".join(lines)


def launch_chain(chain: int, repeats: int = 200) -> Dict[str, float]:
    """Per-kernel cost of a chain of ``chain`` tiny dependent kernels: stream launches vs one
    graph replay (the CUDA micro-benchmark compiled into the CUDA module; needs a usable GPU)."""
    return cuda_module().bench_launch_chain(chain, repeats)


def copy_bandwidth(nbytes: int = 256 << 20, repeats: int = 5) -> Dict[str, float]:
    """Host<->device bandwidth in GB/s, pageable vs pinned (CUDA events, median; needs a GPU)."""
    return cuda_module().bench_copy_bandwidth(nbytes, repeats)


def summary(r: Dict[str, Any]) -> List[Dict[str, Any]]:
    """Summary rows (case, ours, peers, ratio) of :func:`cpu_compare`'s or :func:`run`'s results."""
    if "results" in r:  # cpu_compare: the CPU twin against numpy (and torch)
        rows = []
        for x in r["results"]:
            peers = {k: v for k, v in x["median_us"].items() if k != "superinstance"}
            ours = x["median_us"]["superinstance"]
            rows.append(row(f"{x['case']} (CPU)", f"{ours:.1f} us", ", ".join(f"{k} {v:.1f} us" for k, v in peers.items()),
                            best_peer_ratio(ours, peers)))
        return rows
    if "skipped" in r:
        return [row("GPU benchmarks", "skipped", r["skipped"])]
    rows = [row(f"chain of {x['chain']} tiny kernels, per kernel", f"graph {x['graph_us_per_kernel']:.2f} us",
                f"stream launches {x['stream_us_per_kernel']:.2f} us",
                x["stream_us_per_kernel"] / x["graph_us_per_kernel"]) for x in r["launch"]]
    rows += [row(f"sentiment head batch {x['batch']}, copies included", f"graph {x['graph_us']:.1f} us",
                 f"eager {x['eager_us']:.1f} us, CPU backend {x['cpu_us']:.1f} us",
                 best_peer_ratio(x["graph_us"], {"eager": x["eager_us"], "cpu": x["cpu_us"]})) for x in r["sentiment"]]
    b = r["bandwidth"]
    for way in ("h2d", "d2h"):
        pinned, pageable = b[f"pinned_{way}_gbps"], b[f"pageable_{way}_gbps"]
        rows.append(row(f"256 MiB {way.upper()} copy", f"pinned {pinned:.1f} GB/s", f"pageable {pageable:.1f} GB/s",
                        pinned / pageable if pageable > 0 else None))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--cpu", action="store_true",
                    help="instead: the CPU twin against numpy/torch (no GPU needed)")
    args = ap.parse_args(argv)
    if args.cpu:
        r = cpu_compare(8 if args.quick else 30)
        write_json(args.json, r)
        print(cpu_table(r))
        return 0
    r = run(args.quick)
    write_json(args.json, r)
    print(table(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
