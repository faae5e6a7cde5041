"""The Dask engine (dsnbench/run/dask_engine.py) on a 2-worker LocalCluster on loopback: the same
tables as the single-process path, a worker killed mid-run, a driver restarted mid-run.

One cluster serves every test of the module (start-up costs seconds). The sweep: the two
oracles and a tiny random-init DSN checkpoint at two gate operating points (so traces, widths
and MAC pricing travel too), on tiny WSJ0-2mix and WHAM! sets in their published layouts.
"""
from __future__ import annotations

import json
import logging
import os
import signal

import pandas as pd
import pytest

from dsnbench.run.config import build_config
from dsnbench.run.dask_engine import SINGLE_THREAD_ENV, run_experiment_dask
from dsnbench.run.engines import EngineOptions
from dsnbench.errors import UserError
from dsnbench.run.local_engine import run_experiment
from dsnbench.results import read_run

distributed = pytest.importorskip("distributed")

METRICS = ["si_snr", "sdr", "pesq", "stoi"]


@pytest.fixture(scope="module")
def cluster():
    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=logging.ERROR,
                                  env=dict(SINGLE_THREAD_ENV))
    yield cl
    cl.close()


@pytest.fixture(scope="module")
def dsn_checkpoint(tmp_path_factory):
    import torch

    from dsnbench.models.checkpoint import save_checkpoint
    from dsnbench.models.dualpath import DSNConfig, DualPathDSN
    torch.manual_seed(0)
    model = DualPathDSN(DSNConfig.preset("tiny")).eval()
    prov = {"training_config": {}, "data": "test fixture: random init, never trained", "steps": 0,
            "val_si_snr": None, "val_si_snri": None}
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny-dsn.safetensors", model, "dsn", prov,
                           operating_points=[0.0])


@pytest.fixture(scope="module")
def sweep_cfg(wsj0_root, wham_root, dsn_checkpoint):
    return build_config({
        "models": ["oracle-mixture", "oracle-irm",
                   {"name": str(dsn_checkpoint), "label": "tiny-dsn", "operating_points": {"range": [0, 4, 4]}}],
        "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)},
                     {"name": "wham", "root": str(wham_root), "sweep": {"task": ["sep_noisy"]}}],
        "metrics": METRICS, "workers": 2, "chunk_size": 3,
    })


@pytest.fixture(scope="module")
def reference(sweep_cfg, tmp_path_factory):
    """The single-process path's tables (its metric pool started with one BLAS thread, as the
    Dask workers are: more threads sum matrix products in another order)."""
    import torch
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
    threads = torch.get_num_threads()
    os.environ.update(SINGLE_THREAD_ENV)
    torch.set_num_threads(1)
    try:
        out = tmp_path_factory.mktemp("local") / "run"
        run_experiment(sweep_cfg, out, progress=False)
    finally:
        torch.set_num_threads(threads)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return read_run(out)


def _same_tables(run, ref) -> None:
    pd.testing.assert_frame_equal(run.utterances, ref.utterances, check_exact=True)
    pd.testing.assert_frame_equal(run.segments, ref.segments, check_exact=True)
    strip = lambda s: json.dumps(s["entries"], sort_keys=True)
    assert strip(run.summary) == strip(ref.summary)
    assert run.summary["config_hash"] == ref.summary["config_hash"]


def _opts(cluster, batch_size=2) -> EngineOptions:
    return EngineOptions(name="dask", scheduler=cluster.scheduler_address, unit_size=batch_size)


def test_sweep_on_two_workers_gives_the_single_process_tables(cluster, sweep_cfg, reference, tmp_path):
    out = tmp_path / "run"
    logs: list[str] = []
    summary = run_experiment_dask(sweep_cfg, out, _opts(cluster), progress=False, log=logs.append)
    run = read_run(out)
    _same_tables(run, reference)
    # 3 models (the DSN at 2 operating points) x 2 datasets; 4 + 3 utterances each
    assert [(e["model"], e["dataset"], e["operating_point"]) for e in summary["entries"]] == [
        (m, d, op) for m, ops in (("oracle-mixture", [None]), ("oracle-irm", [None]), ("tiny-dsn", [0.0, 4.0]))
        for d in ("wsj0-2mix", "wham:sep_noisy") for op in ops]
    assert len(run.utterances) == 4 * 7 and run.utterances["error"].eq("").all()
    assert run.segments.query("model == 'tiny-dsn'")["width"].notna().all()  # traces came back
    report = json.loads((out / "engine.json").read_text())
    # units: per entry ceil(4/2) + ceil(3/2) = 4 -> 16; each reported by the worker that ran it
    assert report["units"] == 16 and report["utterances"] == 28
    assert sum(w["units"] for w in report["workers"].values()) == 16
    assert sum(w["utterances"] for w in report["workers"].values()) == 28
    assert all(a.startswith("tcp://127.0.0.1:") for a in report["workers"])
    # input metrics once per (dataset, batch), shared by the 4 entries of each dataset
    assert report["input_metrics"]["tasks"] == 4
    assert report["input_metrics"]["computed"] + report["input_metrics"]["cache_hits"] == 7
    assert all(e["utterances"] == (4 if e["dataset"] == "wsj0-2mix" else 3) for e in report["entries"])
    assert any("units" in line and "busy s" in line for line in logs)  # the what-ran-where table


def test_a_worker_killed_mid_run_costs_only_its_unit(cluster, sweep_cfg, reference, tmp_path):
    client = distributed.Client(cluster)
    client.wait_for_workers(2, timeout=60)
    client.close()
    killed: list[int] = []

    def kill_a_busy_worker(client, n_done):
        if killed:
            return
        busy = [addr for addr, keys in client.processing().items() if keys]
        if not busy:  # between two units: try again after the next one
            return
        pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    out = tmp_path / "run"
    run_experiment_dask(sweep_cfg, out, _opts(cluster, batch_size=1), progress=False, log=lambda s: None,
                        on_unit_done=kill_a_busy_worker)
    assert killed, "no unit was ever in flight to interrupt"
    _same_tables(read_run(out), reference)
    report = json.loads((out / "engine.json").read_text())
    assert report["workers_lost"]  # the killed worker left; its units ran again elsewhere
    assert not report["failed_units"]


class _DriverStopped(Exception):
    pass


def test_a_restarted_driver_resumes_and_ends_with_the_same_tables(cluster, sweep_cfg, reference, tmp_path):
    out = tmp_path / "run"

    def stop_after_three(client, n_done):
        if n_done == 3:
            raise _DriverStopped

    with pytest.raises(_DriverStopped):
        run_experiment_dask(sweep_cfg, out, _opts(cluster), progress=False, log=lambda s: None,
                            on_unit_done=stop_after_three)
    committed = sorted((out / "parts").glob("utt-*.parquet"))
    assert len(committed) == 3 and not (out / "summary.json").exists()
    # --dry-run on the folder shows what is committed per entry, and writes nothing
    from dsnbench.run.plan import format_plan, plan_entries
    planned = plan_entries(sweep_cfg, out)
    n_committed = sum(len(pd.read_parquet(p)) for p in committed)
    assert sum(e.n_done for e in planned) == n_committed and sum(e.n_utterances for e in planned) == 28
    assert f"{n_committed} already committed, {28 - n_committed} to run" in format_plan(planned, show_done=True)
    assert sorted((out / "parts").glob("utt-*.parquet")) == committed
    run_experiment_dask(sweep_cfg, out, _opts(cluster), progress=False, log=lambda s: None)
    report = json.loads((out / "engine.json").read_text())
    assert report["utterances"] == 28 - sum(len(pd.read_parquet(p)) for p in committed)
    _same_tables(read_run(out), reference)


def test_unreachable_scheduler_is_a_one_line_error(sweep_cfg, tmp_path, monkeypatch):
    import dsnbench.run.dask_engine as d
    monkeypatch.setattr(d, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(UserError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_experiment_dask(sweep_cfg, tmp_path / "run", EngineOptions("dask", "tcp://127.0.0.1:9"),
                            progress=False, log=lambda s: None)


def test_cli_runs_a_sweep_file_on_a_running_scheduler(cluster, sweep_cfg, reference, dsnbench_exe, wsj0_root,
                                                      wham_root, dsn_checkpoint, tmp_path):
    import subprocess
    exp = tmp_path / "sweep.yaml"
    exp.write_text(
        "engine: dask\n"
        "models:\n  - oracle-mixture\n  - oracle-irm\n"
        f"  - {{name: '{dsn_checkpoint}', label: tiny-dsn, operating_points: {{range: [0, 4, 4]}}}}\n"
        f"datasets:\n  - {{name: wsj0-2mix, root: '{wsj0_root}'}}\n"
        f"  - {{name: wham, root: '{wham_root}', sweep: {{task: [sep_noisy]}}}}\n"
        f"metrics: [{', '.join(METRICS)}]\nchunk_size: 3\n")
    out = tmp_path / "run"
    res = subprocess.run([*dsnbench_exe, "run", str(exp), "--scheduler", cluster.scheduler_address,
                          "--out", str(out), "--no-progress"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "tiny-dsn" in res.stdout and "run folder:" in res.stdout
    assert "busy s" in res.stderr and cluster.scheduler_address in res.stderr  # what ran where
    _same_tables(read_run(out), reference)


@pytest.mark.parametrize("reply", [None, b"HTTP/1.0 400 Bad Request\r\n\r\n"])
def test_a_scheduler_address_that_is_not_dask_is_one_line_within_the_bound(wsj0_root, tmp_path, monkeypatch, reply):
    """Issue 21: a silent listener, or a server that answers garbage (HTTP) and keeps the
    connection, used to hang the run forever; now one line within the handshake bound."""
    import socket
    import threading
    import time
    import dsnbench.run.dask_engine as d
    monkeypatch.setattr(d, "HANDSHAKE_S", 3.0)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if reply:
                conn.sendall(reply)

    threading.Thread(target=serve, daemon=True).start()
    cfg = build_config({"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "metrics": ["si_snr"], "workers": 1})
    t0 = time.monotonic()
    try:
        expect = "completed no handshake in 3 s" if reply is None else "answered something that is not a Dask"
        with pytest.raises(UserError, match=rf"tcp://127.0.0.1:{port}.*" if reply else expect) as err:
            run_experiment_dask(cfg, tmp_path / "run", EngineOptions("dask", f"tcp://127.0.0.1:{port}"),
                                progress=False, log=lambda s: None)
    finally:
        server.close()
        for c in held:
            c.close()
    assert time.monotonic() - t0 < 40 and "\n" not in str(err.value) and expect in str(err.value)


def test_a_malformed_scheduler_address_is_one_line(wsj0_root, tmp_path):
    cfg = build_config({"models": ["oracle-mixture"], "datasets": [{"name": "wsj0-2mix", "root": str(wsj0_root)}],
                        "metrics": ["si_snr"], "workers": 1})
    with pytest.raises(UserError, match=r"is not a Dask scheduler address"):
        run_experiment_dask(cfg, tmp_path / "run", EngineOptions("dask", "tcp://not a host:x"),
                            progress=False, log=lambda s: None)
