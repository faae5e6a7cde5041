"""Training (design section 3): losses, on-the-fly mixing, the trainer and its stages.

``dsnbench train CONFIG.yaml`` (:mod:`dsnbench.commands.train`) runs one training; configs live
in ``experiments/train/``. The bundled checkpoints in ``dsnbench/assets/checkpoints`` were
trained by the ``mini-*.yaml`` configs there.
"""
