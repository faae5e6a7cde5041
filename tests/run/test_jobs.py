"""The metric job a worker computes (dsnbench/run/jobs.py)."""
from __future__ import annotations


def test_metric_worker_path_never_imports_torch(tmp_path) -> None:
    """All metrics of one utterance through compute_metrics (the worker's job) in a fresh
    interpreter: torch and torchmetrics stay out of sys.modules, so workers start fast and
    no torch thread pool exists in them (design section 9)."""
    import subprocess
    import sys
    script = (
        "import sys, numpy as np\n"
        "from dsnbench.run.jobs import MetricJob, compute_metrics\n"
        "rng = np.random.default_rng(0)\n"
        "s = rng.standard_normal((2, 8000))\n"
        "job = MetricJob('u', s[::-1] + 0.1 * rng.standard_normal(s.shape), s, s.sum(0), None,\n"
        "                2000, 1000, 7, None, 8000, None, None)\n"
        "r = compute_metrics(job)\n"
        "assert not r.errors and all(np.isfinite(v) for v in r.values.values()), r.errors\n"
        "assert 'sdr' in r.values and 'pesq' in r.values and 'estoi' in r.values\n"
        "print(sorted(m for m in ('torch', 'torchmetrics') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_worker_preload_names_every_metrics_compute_module_and_libraries():
    from dsnbench.metrics import METRICS
    from dsnbench.run.jobs import worker_preload
    preload = worker_preload()
    assert preload[0] == "dsnbench.run.jobs" and len(preload) == len(set(preload))
    for name in METRICS.in_order():
        spec = METRICS.get(name)
        assert spec.compute.__module__ in preload and set(spec.libraries) <= set(preload)
    assert {"pesq", "pystoi", "scipy.linalg"} <= set(preload)
