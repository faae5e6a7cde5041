"""Every notebook in notebooks/ runs to the end without an error (nbclient, this interpreter)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
KERNEL = "dsnbench-tests"


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernelspec that runs this very interpreter (the venv's), found through JUPYTER_PATH, so
    a fresh CI venv needs no ``ipykernel install``; and a shared demo run for the fallback."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "dsnbench tests", "language": "python"}))
    from dsnbench.analysis.demo import write_demo_run
    demo = write_demo_run(tmp_path_factory.mktemp("nb-demo") / "demo", n_utterances=2, seconds=1.2)
    mp = pytest.MonkeyPatch()
    mp.setenv("JUPYTER_PATH", str(root))
    mp.setenv("DSNBENCH_DEMO_RUN", str(demo))
    mp.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    yield
    mp.undo()


def test_there_are_the_three_notebooks():
    assert {p.name for p in NOTEBOOKS} >= {"pareto.ipynb", "gates.ipynb", "overlap_noise.ipynb"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_env):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name=KERNEL, resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
