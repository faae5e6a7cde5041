"""Real speech the metric tests share (LibriSpeech test-other from ../shared/data)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.fixture(scope="module")
def speech() -> tuple[np.ndarray, np.ndarray]:
    """Two real utterances of different speakers, 1.5 s at 8 kHz (LibriSpeech test-other)."""
    from scipy.signal import resample_poly
    files = [DATA / "librispeech/test-other/3005/3005-163389-0000.flac",
             DATA / "librispeech/test-other/1688/1688-142285-0000.flac"]
    if not all(f.exists() for f in files):
        pytest.skip("LibriSpeech test-other not present")
    out = [resample_poly(sf.read(f)[0], 1, 2)[4000:16000] for f in files]
    return out[0], out[1]
