"""Data: dataset readers (published layouts), manifests, labels, variants, the mini benchmark."""
from __future__ import annotations

from ..registry import Registry
from .manifest import DatasetError, Manifest, Utterance

DATASETS = Registry("dataset")

DATASETS.register("wsj0-2mix", "dsnbench.data.layouts:wsj0_2mix",
                  help="WSJ0-2mix: <root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix,s1,s2}", needs_root=True)
DATASETS.register("wham", "dsnbench.data.layouts:wham",
                  help="WHAM!: <root>/wav{8k,16k}/{min,max}/{tr,cv,tt}/{mix_clean,mix_both,mix_single,s1,s2,noise}; --task",
                  needs_root=True)

__all__ = ["DATASETS", "DatasetError", "Manifest", "Utterance"]
