"""The committed experiment files build (the default one, the mini sweep, the corpus ones)."""
from __future__ import annotations

import shutil
from pathlib import Path

from dsnbench.commands.run import default_experiment_path
from dsnbench.run.config import build_config, load_document

REPO = Path(__file__).resolve().parent.parent


def test_default_and_mini_experiments_build():
    default = build_config(load_document(default_experiment_path()))
    mini = build_config(load_document(REPO / "experiments" / "mini.yaml"))
    assert {d.name for d in default.datasets} == {"mini-2mix", "mini-wham"}
    assert {m.name for m in default.models} <= {m.name for m in mini.models}
    families = {m.name.split("-")[0] for m in default.models}
    assert families == {"static", "slim", "dsn", "oracle"}


def test_corpus_experiments_expand_on_a_checkpoint_folder(tmp_path, monkeypatch):
    ckpts = tmp_path / "dsnbench" / "assets" / "checkpoints"   # where the files' globs look
    ckpts.mkdir(parents=True)
    bundled = REPO / "dsnbench" / "assets" / "checkpoints"
    for name in ("static-0.5", "dsn-l1"):
        shutil.copy(bundled / f"{name}.safetensors", ckpts)
    monkeypatch.chdir(tmp_path)
    for name in ("wsj0-2mix", "wham"):
        cfg = build_config(load_document(REPO / "experiments" / f"{name}.yaml"),
                           [f"datasets.0.root={tmp_path}"])
        assert [m.result_name for m in cfg.models] == ["oracle-mixture", "oracle-irm", "static-0.5", "dsn-l1"]
        assert cfg.datasets[0].root == str(tmp_path)
