"""STOI and ESTOI, equal to ``pystoi`` 0.4.1, computed together and vectorised.

``pystoi.stoi`` is the reference implementation (Taal et al. 2011, STOI; Jensen & Taal 2016,
ESTOI). It is called twice per pair (once per variant), and both calls resample to 10 kHz,
remove silent frames and take an STFT in Python loops over frames, so they cost ~70 ms per pair
at 4 s. The run loop needs STOI and ESTOI of every aligned pair and of the mixture, so here:

- resampling uses ``pystoi.utils.resample_oct`` itself (:func:`at_stoi_rate`);
- everything that depends on the clean reference alone (its resampling, which frames are
  silent, its band envelopes and their normalised segments) is computed once per reference
  (:func:`reference_side`) and kept in a content-keyed cache of this process, so the input
  metrics and every model's estimate of an utterance reuse it (:func:`estimate_side` does the
  rest);
- silent-frame removal, the STFT, the 1/3-octave band matrix (``pystoi.stoi.OBM``), the 30-frame
  segments and both correlation stages follow pystoi's steps and constants exactly, written with
  array operations instead of per-frame loops; the first three stages are shared by STOI and
  ESTOI.

Tests check equality with ``pystoi.stoi`` to 1e-9 on speech and on random signals. Two
deliberate differences, both on inputs where pystoi does not give a usable number:

- fewer than 30 STFT frames after silent-frame removal: pystoi warns and returns 1e-5; here it
  is a :class:`~dsnbench.metrics.functional.MetricError` ("too few non-silent frames"), so the
  suite records NaN and the reason instead of a number standing in for a failure;
- ESTOI on a segment where one band of a signal is exactly constant (e.g. digital silence in the
  estimate): pystoi adds unseeded 2e-16 noise, which makes the normalised band a random unit
  vector and the result non-reproducible; here the band is left at zero (no correlation), which
  is that random term's expected value, and the result is deterministic.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .functional import MetricError, check_finite

FS = 10000          # STOI's internal sampling rate
N_FRAME = 256       # frame length (25.6 ms at 10 kHz)
NFFT = 512
N_SEGMENT = 30      # frames per short-time segment (384 ms)
BETA = -15.0        # lower SDR bound of the clipping stage (dB)
DYN_RANGE = 40      # dB below the loudest clean frame that still counts as speech


def _constants():
    import importlib

    pystoi_module = importlib.import_module("pystoi.stoi")  # the module, not the function
    from pystoi import utils
    return pystoi_module.OBM, utils.EPS


def at_stoi_rate(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample to 10 kHz exactly as pystoi does (``pystoi.utils.resample_oct``).

    Shape: ``x [T]`` -> ``[T']``.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if sample_rate == FS:
        return x
    from pystoi import utils
    return utils.resample_oct(x, FS, sample_rate)


def _frame_starts(n: int, hop: int) -> int:
    """Number of frames pystoi takes: starts ``range(0, n - N_FRAME, hop)``."""
    return len(range(0, n - N_FRAME, hop))


def _window() -> np.ndarray:
    return np.hanning(N_FRAME + 2)[1:-1]


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Overlap-add of 50 %-overlapping frames (frame length = 2 * hop)."""
    k = frames.shape[0]
    if k == 0:
        return np.zeros(0)
    out = np.zeros((k + 1) * hop)
    out[: k * hop] += frames[:, :hop].reshape(-1)
    out[hop: (k + 1) * hop] += frames[:, hop:].reshape(-1)
    return out[: (k - 1) * hop + 2 * hop]


def _band_envelopes(x: np.ndarray, obm: np.ndarray) -> np.ndarray:
    """1/3-octave band magnitudes per STFT frame. Shape: ``[T]`` -> ``[15, n_frames]``."""
    if _frame_starts(len(x), N_FRAME // 2) < 1:
        return np.zeros((obm.shape[0], 0))
    spec = np.fft.rfft(_frames(x), n=NFFT, axis=1)  # [n_frames, 257]
    power = np.square(spec.real)
    power += np.square(spec.imag)
    return np.sqrt(obm @ power.T)


def _segments(tob: np.ndarray) -> np.ndarray:
    """All windows of 30 consecutive frames. Shape: ``[15, F]`` -> ``[F - 29, 15, 30]``."""
    return np.ascontiguousarray(sliding_window_view(tob, N_SEGMENT, axis=1).transpose(1, 0, 2))


def _norms(v: np.ndarray, axis: int) -> np.ndarray:
    """Euclidean norms along ``axis`` (kept as a length-1 axis)."""
    spec = "sbt,sbt->sb" if axis == 2 else "sbt,sbt->st"
    return np.expand_dims(np.sqrt(np.einsum(spec, v, v)), axis)


def _centre(v: np.ndarray, axis: int) -> np.ndarray:
    """``v`` minus its mean along ``axis``, in place (``v`` must be a private copy)."""
    v -= np.mean(v, axis=axis, keepdims=True)
    return v


def _unit(v: np.ndarray, axis: int) -> np.ndarray:
    """Centre along ``axis`` and scale to unit norm there, in place; all-zero rows stay zero
    (pystoi adds random noise there instead: see the module docstring)."""
    _centre(v, axis)
    norm = _norms(v, axis)
    np.divide(v, norm, out=v, where=norm > 0)
    v *= norm > 0  # exact zeros where the norm is 0 (also for values whose squares underflow)
    return v


def _frames(x: np.ndarray) -> np.ndarray:
    hop = N_FRAME // 2
    return sliding_window_view(x, N_FRAME)[::hop][:_frame_starts(len(x), hop)] * _window()


@dataclass(frozen=True)
class ReferenceSide:
    """What STOI and ESTOI need from the clean reference (at 10 kHz), computed once.

    ``keep``: the frames silent-frame removal keeps (decided on the reference alone);
    ``tob``: its 1/3-octave band envelopes after that removal ``[15, F]``. The arrays of the
    correlation stages are derived from ``tob`` by :meth:`prepared`.
    """

    n_samples: int
    keep: np.ndarray
    tob: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.keep.nbytes + self.tob.nbytes)

    def prepared(self) -> "_PreparedReference":
        """The 30-frame segments ``[S, 15, 30]``, their norms over time, STOI's centred and
        normalised segments and ESTOI's row- then column-normalised ones."""
        _, eps = _constants()
        seg = _segments(self.tob)
        stoi_side = _centre(seg.copy(), 2)
        stoi_side /= _norms(stoi_side, 2) + eps
        prepared = _PreparedReference(self, seg, _norms(seg, 2), stoi_side, _unit(_unit(seg.copy(), 2), 1))
        for arr in (seg, prepared.norms, stoi_side, prepared.estoi):
            arr.setflags(write=False)
        return prepared


@dataclass(frozen=True)
class _PreparedReference:
    base: ReferenceSide
    segments: np.ndarray
    norms: np.ndarray
    stoi: np.ndarray
    estoi: np.ndarray

    @property
    def nbytes(self) -> int:
        return int(self.segments.nbytes + self.norms.nbytes + self.stoi.nbytes + self.estoi.nbytes)


def _reference_side_at_rate(x: np.ndarray) -> ReferenceSide:
    obm, eps = _constants()
    hop = N_FRAME // 2
    if _frame_starts(len(x), hop) < 1:
        raise MetricError(f"too short for STOI ({len(x)} samples at 10 kHz, needs more than {N_FRAME})")
    frames = _frames(x)
    energies = 20 * np.log10(np.linalg.norm(frames, axis=1) + eps)
    keep = (np.max(energies) - DYN_RANGE - energies) < 0
    tob = _band_envelopes(_overlap_add(frames[keep], hop), obm)
    if tob.shape[1] < N_SEGMENT:
        raise MetricError(f"too few non-silent frames for STOI ({tob.shape[1]} STFT frames after "
                          f"silent-frame removal, needs {N_SEGMENT}: about 0.4 s of speech)")
    keep.setflags(write=False)
    tob.setflags(write=False)
    return ReferenceSide(len(x), keep, tob)


class _ReferenceCache:
    """Content-keyed caches of this process: compact :class:`ReferenceSide` entries (tens of kB
    each) within ``compact_bytes``, and prepared ones (a few MB each) within
    ``prepared_bytes``, each dropping its least recently used entries beyond its budget. The
    key is a hash of the reference samples, its rate and shape, so a hit is the same signal."""

    def __init__(self, compact_bytes: int, prepared_bytes: int) -> None:
        self.budgets = (compact_bytes, prepared_bytes)
        self.compact: "OrderedDict[tuple, ReferenceSide]" = OrderedDict()
        self.prepared: "OrderedDict[tuple, _PreparedReference]" = OrderedDict()
        self.sizes = [0, 0]

    @staticmethod
    def key(x: np.ndarray, sample_rate: int) -> tuple:
        return (hashlib.blake2b(x.tobytes(), digest_size=16).digest(), x.shape, int(sample_rate))

    def _put(self, which: int, key: tuple, value, nbytes: int) -> None:
        store = (self.compact, self.prepared)[which]
        store[key] = value
        self.sizes[which] += nbytes
        while self.sizes[which] > self.budgets[which] and len(store) > 1:
            _, old = store.popitem(last=False)
            self.sizes[which] -= _nbytes(old)

    def get(self, reference: np.ndarray, sample_rate: int) -> _PreparedReference:
        x = np.ascontiguousarray(reference, dtype=np.float64)
        key = self.key(x, sample_rate)
        hit = self.prepared.get(key)
        if hit is not None:
            self.prepared.move_to_end(key)
            return hit
        base = self.compact.get(key)
        if base is not None:
            self.compact.move_to_end(key)
        else:
            base = _reference_side_at_rate(at_stoi_rate(x, sample_rate))
            self._put(0, key, base, _nbytes(base))
        prepared = base.prepared()
        self._put(1, key, prepared, _nbytes(prepared))
        return prepared


def _nbytes(entry: "ReferenceSide | _PreparedReference") -> int:
    return entry.nbytes + 200  # arrays plus a rough allowance for the objects around them


#: 64 MB of compact entries hold ~2500 references of 4 s (every reference of WSJ0-2mix's test
#: set at its mean length); 32 MB of prepared ones ~12, enough for the sources of the
#: utterances a worker has in hand
_CACHE = _ReferenceCache(compact_bytes=64 << 20, prepared_bytes=32 << 20)


def reference_side(reference: np.ndarray, sample_rate: int) -> _PreparedReference:
    """The reference's half of STOI and ESTOI, from the cache when this process has seen the
    same samples before. Raises :class:`MetricError` for a reference that is too short or keeps
    fewer than 30 frames after silent-frame removal.

    Shape: ``reference [T]`` (finite) at ``sample_rate``.
    """
    return _CACHE.get(reference, sample_rate)


def estimate_side(ref: _PreparedReference, estimate_10k: np.ndarray) -> tuple[float, float]:
    """(STOI, ESTOI) of an estimate at 10 kHz (:func:`at_stoi_rate`) against a prepared reference.

    Shape: ``estimate_10k [T]`` with T = the reference's length at 10 kHz.
    """
    obm, eps = _constants()
    y = np.asarray(estimate_10k, dtype=np.float64)
    if y.shape != (ref.base.n_samples,):
        raise MetricError(f"STOI needs two equal 1-D signals, got ({ref.base.n_samples},) and {y.shape}")
    y_seg = _segments(_band_envelopes(_overlap_add(_frames(y)[ref.base.keep], N_FRAME // 2), obm))
    n_seg, n_bands = ref.segments.shape[0], ref.segments.shape[1]
    # STOI: scale each band segment to the reference's norm, clip at BETA dB, correlate
    y_prime = y_seg * (ref.norms / (_norms(y_seg, 2) + eps))
    np.minimum(y_prime, ref.segments * (1 + 10 ** (-BETA / 20)), out=y_prime)
    _centre(y_prime, 2)
    y_prime /= _norms(y_prime, 2) + eps
    stoi_value = float(np.einsum("sbt,sbt->", y_prime, ref.stoi) / (n_seg * n_bands))
    # ESTOI: normalise rows then columns, correlate
    y_n = _unit(_unit(y_seg, 2), 1)
    estoi_value = float(np.einsum("sbt,sbt->", ref.estoi, y_n) / N_SEGMENT / n_seg)
    return stoi_value, estoi_value


def stoi_estoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> tuple[float, float]:
    """(STOI, ESTOI) of ``estimate`` against the clean ``reference``, as pystoi computes them.

    Not symmetric: the clean reference is the first argument (silent frames are found in it).

    Shape: ``reference [T]``, ``estimate [T]``.
    """
    ref = np.asarray(reference, dtype=np.float64)
    est = np.asarray(estimate, dtype=np.float64)
    if ref.shape != est.shape or ref.ndim != 1:
        raise MetricError(f"STOI needs two equal 1-D signals, got {ref.shape} and {est.shape}")
    check_finite(ref, "reference")
    check_finite(est, "estimate")
    return estimate_side(reference_side(ref, sample_rate), at_stoi_rate(est, sample_rate))


def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, extended: bool = False) -> float:
    """STOI (or ESTOI with ``extended``) of ``estimate`` against the clean ``reference``.

    Shape: ``reference [T]``, ``estimate [T]``.
    """
    s, e = stoi_estoi(reference, estimate, sample_rate)
    return e if extended else s
