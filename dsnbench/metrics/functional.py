"""Metric functions on numpy arrays. Reference first in every public function.

Shape conventions: single-signal functions take ``reference [T]`` and ``estimate [T]``;
batched ones take ``[n_src, T]`` and work row by row (row ``i`` of the references with row ``i``
of the estimates), except the ``*_matrix`` functions, which score every pair.

Definitions (design section 6):

- **SI-SNR**: zero-mean scale-invariant SNR (Le Roux et al. 2019), float64.
- **SDR**: BSS Eval v3 ``bss_eval_sources`` SDR with a 512-tap time-invariant distortion filter,
  computed in float64 with numpy/scipy (FFT correlations, Levinson solve of the Toeplitz normal
  equations, no regularisation: see :func:`_sdr_rows`). For one estimate ``e`` of
  reference ``s`` it is ``10 log10(||P_s e||^2 / ||e - P_s e||^2)``, where ``P_s`` projects onto
  the span of the 512 delayed copies of ``s``. In BSS Eval v3 the interference and artifact
  terms sum to ``e - P_s e``, so SDR depends only on the estimate and *its own* reference, not
  on the other sources: computing SDR pair by pair on the pairs aligned by the SI-SNR
  permutation gives exactly what ``mir_eval.separation.bss_eval_sources(refs, aligned,
  compute_permutation=False)`` gives (tested to 1e-6 dB, and against the original MATLAB
  values to 1e-2 dB).
- **PESQ**: ITU-T P.862 narrow-band (default at 8 kHz) or P.862.2 wide-band (default at
  16 kHz) by the ``pesq`` package; MOS-LQO.
- **STOI / ESTOI**: Taal et al. 2011 / Jensen & Taal 2016 as in ``pystoi`` 0.4.1 (clean
  reference first); see :mod:`.intelligibility`.

Failure policy: a value that is undefined for the input raises :class:`MetricError` whose
message is the reason; :class:`dsnbench.metrics.suite.MetricSuite` turns it into NaN plus the
reason and never lets it escape. A signal is **silent** when its mean square after removing its
mean is at most ``SILENT_POWER`` (1e-12, i.e. an RMS of 1e-6, about -120 dBFS: far below the
least significant bit of 16-bit audio).
"""
from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np

EPS = 1e-12
#: mean-square power (after mean removal) at or below which a whole signal counts as silent
SILENT_POWER = 1e-12
#: BSS Eval v3 distortion filter length in taps
SDR_FILTER_LENGTH = 512


class MetricError(ValueError):
    """A metric that is undefined for this input; ``str(exc)`` is the reason recorded."""


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------

def _as_float64(x: np.ndarray, what: str, ndim: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if ndim is not None and a.ndim != ndim:
        raise MetricError(f"{what} must be {ndim}-D, got shape {a.shape}")
    return a


def check_finite(x: np.ndarray, what: str) -> None:
    """Raise :class:`MetricError` naming ``what`` if ``x`` holds NaN or Inf samples."""
    if not np.all(np.isfinite(x)):
        bad = int(np.count_nonzero(~np.isfinite(x)))
        raise MetricError(f"{what} has {bad} non-finite sample(s)")


def is_silent(x: np.ndarray) -> np.ndarray | bool:
    """True where a signal (or each row of ``[n, T]``) is silent (see module docstring)."""
    a = np.asarray(x, dtype=np.float64)
    centred = a - a.mean(axis=-1, keepdims=True)
    power = np.mean(centred * centred, axis=-1)
    return power <= SILENT_POWER


def _check_pairs(references: np.ndarray, estimates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    refs = _as_float64(references, "references")
    ests = _as_float64(estimates, "estimates")
    if refs.shape != ests.shape:
        raise MetricError(f"references {refs.shape} and estimates {ests.shape} differ in shape")
    if refs.ndim not in (1, 2) or refs.shape[-1] < 1:
        raise MetricError(f"expected [T] or [n_src, T] signals, got shape {refs.shape}")
    return refs, ests


def _check_signals(refs: np.ndarray, ests: np.ndarray) -> None:
    """Finite and non-silent, reporting the first problem (row indices in the message)."""
    r2, e2 = np.atleast_2d(refs), np.atleast_2d(ests)
    for name, arr in (("reference", r2), ("estimate", e2)):
        for i, row in enumerate(arr):
            check_finite(row, f"{name} {i}" if arr.shape[0] > 1 else name)
    for name, arr in (("reference", r2), ("estimate", e2)):
        silent = np.atleast_1d(is_silent(arr))
        if silent.any():
            idx = int(np.flatnonzero(silent)[0])
            raise MetricError(f"silent {name}" + (f" {idx}" if arr.shape[0] > 1 else ""))


# --------------------------------------------------------------------------------------
# SI-SNR and PIT
# --------------------------------------------------------------------------------------

def si_snr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SNR in dB, zero-mean (Le Roux et al. 2019, "SDR - half-baked or well done?").

    ``10 log10(||a s||^2 / ||a s - e||^2)`` with ``a = <e, s> / ||s||^2`` after removing the mean
    of both signals. Raises :class:`MetricError` (a ValueError) on a silent reference or
    estimate, or non-finite samples (the value is undefined).

    Shape: ``reference [T]``, ``estimate [T]``.
    """
    s = np.asarray(reference, dtype=np.float64)
    e = np.asarray(estimate, dtype=np.float64)
    if s.shape != e.shape or s.ndim != 1:
        raise MetricError(f"si_snr needs two equal 1-D signals, got {s.shape} and {e.shape}")
    value = si_snr_matrix(s[None], e[None], strict=True)[0, 0]
    return float(value)


def si_snr_matrix(references: np.ndarray, estimates: np.ndarray, *, strict: bool = True) -> np.ndarray:
    """Pairwise SI-SNR: ``out[i, j] = si_snr(references[i], estimates[j])``.

    With ``strict`` (default) an undefined pair (silent or non-finite signal) raises
    :class:`MetricError`; otherwise it is NaN. The residual ``e - a s`` is formed explicitly (not
    by subtracting energies), so a high SI-SNR keeps its precision.

    Shape: ``references [n_src, T]``, ``estimates [n_est, T]`` -> ``[n_src, n_est]``.
    """
    refs = _as_float64(references, "references", 2)
    ests = _as_float64(estimates, "estimates", 2)
    if refs.shape[1] != ests.shape[1]:
        raise MetricError(f"references and estimates differ in length: {refs.shape[1]} vs {ests.shape[1]}")
    if strict:
        _check_signals(refs, ests)
    finite_r = np.all(np.isfinite(refs), axis=1)
    finite_e = np.all(np.isfinite(ests), axis=1)
    s = np.where(finite_r[:, None], refs, 0.0)
    e = np.where(finite_e[:, None], ests, 0.0)
    s = s - s.mean(axis=1, keepdims=True)
    e = e - e.mean(axis=1, keepdims=True)
    ss = np.einsum("it,it->i", s, s)
    ee = np.einsum("jt,jt->j", e, e)
    dots = s @ e.T  # [n_src, n_est]
    out = np.empty(dots.shape)
    n = s.shape[1]
    for i in range(s.shape[0]):
        scale = dots[i] / max(ss[i], EPS * EPS)         # [n_est]
        residual = e - scale[:, None] * s[i][None, :]    # [n_est, T]
        target_energy = scale * scale * ss[i]
        noise_energy = np.einsum("jt,jt->j", residual, residual)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[i] = 10 * np.log10(np.maximum(target_energy, EPS * EPS) / np.maximum(noise_energy, EPS * EPS))
    undefined = (~finite_r[:, None]) | (~finite_e[None, :]) | (ss[:, None] <= SILENT_POWER * n) \
        | (ee[None, :] <= SILENT_POWER * n)
    out[undefined] = np.nan
    return out


def best_permutation(score: np.ndarray) -> tuple[int, ...]:
    """Permutation ``p`` maximising ``mean_i score[i, p[i]]`` (reference i <-> estimate p[i]).

    NaN entries are undefined pairs (e.g. a silent estimate): the permutation with the most
    defined pairs wins, and among those the one with the highest mean over its defined pairs,
    so the estimates that can be scored are still matched to their best references. Ties are
    broken by the first permutation in lexicographic order, so the choice is deterministic.
    Beyond :data:`EXHAUSTIVE_MAX_SOURCES` references the same optimum comes from
    :func:`assignment_by_hungarian` (the search is factorial).
    With more estimates than references (a separator's outputs on an enhancement task) each
    reference gets a different estimate and the unmatched estimates are left out: for one
    reference, ``p = (k,)`` names the output that scores best.

    Shape: ``score [n_ref, n_est]``, ``n_est >= n_ref``.
    """
    score = np.asarray(score, dtype=np.float64)
    n, n_est = score.shape
    if n_est < n:
        raise ValueError(f"{n_est} estimate(s) for {n} reference(s)")
    if n > EXHAUSTIVE_MAX_SOURCES:
        return assignment_by_hungarian(score)
    best, best_key = None, (-1, -np.inf)
    rows = np.arange(n)
    for perm in itertools.permutations(range(n_est), n):
        vals = score[rows, list(perm)]
        defined = ~np.isnan(vals)
        key = (int(defined.sum()), float(np.mean(vals[defined])) if defined.any() else -np.inf)
        if best is None or key > best_key:
            best, best_key = perm, key
    assert best is not None
    return tuple(int(p) for p in best)


# --------------------------------------------------------------------------------------
# SDR (BSS Eval v3)
# --------------------------------------------------------------------------------------

def sdr(reference: np.ndarray, estimate: np.ndarray, filter_length: int = SDR_FILTER_LENGTH) -> float | np.ndarray:
    """BSS Eval v3 SDR in dB (512-tap distortion filter, float64), row by row.

    Equal to ``mir_eval.separation.bss_eval_sources(reference, estimate,
    compute_permutation=False)[0]`` (see the module docstring for why one reference suffices),
    computed the same way in fewer operations (:func:`_sdr_rows`): FFT correlations, the
    Toeplitz normal equations solved by Levinson recursion, the projection by FFT convolution.

    Not symmetric: the reference is the first argument. Raises :class:`MetricError` on a silent
    or non-finite signal, or when the residual is exactly zero (SDR infinite).

    Shape: ``reference [T]`` and ``estimate [T]`` -> float, or ``[n, T]`` and ``[n, T]`` -> ``[n]``.
    """
    refs, ests = _check_pairs(reference, estimate)
    _check_signals(refs, ests)
    if refs.shape[-1] < 2:
        raise MetricError("signal too short for SDR")
    if int(filter_length) < 1:
        raise ValueError(f"SDR filter length must be at least 1 tap, got {filter_length}")
    values = _sdr_rows(np.atleast_2d(refs), np.atleast_2d(ests), int(filter_length))
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise MetricError(f"SDR not finite for pair {bad} (estimate equals a filtered reference "
                          f"to machine precision, or the reference is degenerate)")
    return values if refs.ndim == 2 else float(values[0])


def _exact_unit_scale(x: np.ndarray) -> np.ndarray:
    """Each row times the power of two that brings its peak into [0.5, 1): exact in floating
    point (only the exponents change), so no value changes, but squares of very loud or very
    quiet signals can neither overflow nor underflow. Shape: ``[n, T]`` -> ``[n, T]``."""
    _, exponent = np.frexp(np.max(np.abs(x), axis=1, keepdims=True))
    return np.ldexp(x, -exponent)


def _sdr_rows(refs: np.ndarray, ests: np.ndarray, filter_length: int) -> np.ndarray:
    """SDR of each row pair, as mir_eval's ``bss_eval_sources`` computes it for one source.

    With ``L = filter_length`` and both signals zero-padded by ``L - 1`` samples, the estimate
    is projected on the span of the reference delayed by 0..L-1 samples: the normal equations
    ``G c = d`` have the Toeplitz Gram matrix ``G[k, l] = r_ss[|k - l|]`` (autocorrelation of
    the reference) and ``d[k] = r_es[k]`` (cross-correlation: estimate against the reference
    delayed by ``k``). Both correlations come from one real FFT per signal of at least
    ``T + L - 1`` points, so the circular correlation equals the linear one; mir_eval forms
    the same numbers the same way (complex FFT of a power-of-two length). ``G`` is solved by
    ``scipy.linalg.solve_toeplitz`` (Levinson recursion, O(L^2) instead of the O(L^3) LU of a
    dense 512x512 matrix), the projection ``P e = c * s`` by FFT convolution, and SDR is
    ``10 log10(||P e||^2 / ||e - P e||^2)`` with the residual formed sample by sample (not by
    subtracting energies), so high SDRs keep their digits.

    Regularisation: none, as in mir_eval 0.8.2 and the MATLAB BSS Eval v3 (``G \\ d``). For a
    finite non-silent reference ``G`` is positive definite (the zero-padded delays are linearly
    independent), so the system always has its exact solution; a quiet reference (such as
    ``data_issue_5.npz``, RMS 1e-3) only scales ``G`` and needs nothing special in float64.
    Adding a diagonal load (as fast_bss_eval and torchmetrics can) would change values away
    from BSS Eval's. Should the recursion meet a singular leading minor or give non-finite
    coefficients (a numerically degenerate reference), the dense solve with the lstsq fallback
    that mir_eval uses takes over for that pair.

    Shape: ``refs [n, T]``, ``ests [n, T]`` (float64, finite, non-silent) -> ``[n]``.
    """
    import scipy.fft
    import scipy.linalg

    n, length = refs.shape
    taps = filter_length
    n_out = length + taps - 1
    n_fft = scipy.fft.next_fast_len(n_out, real=True)
    refs = _exact_unit_scale(refs)
    ests = _exact_unit_scale(ests)
    ref_spec = scipy.fft.rfft(refs, n_fft, axis=1)
    est_spec = scipy.fft.rfft(ests, n_fft, axis=1)
    autocorr = scipy.fft.irfft(ref_spec.real ** 2 + ref_spec.imag ** 2, n_fft, axis=1)[:, :taps]
    crosscorr = scipy.fft.irfft(est_spec * np.conj(ref_spec), n_fft, axis=1)[:, :taps]
    coefs = np.empty((n, taps))
    for i in range(n):
        try:
            c = scipy.linalg.solve_toeplitz(autocorr[i], crosscorr[i], check_finite=False)
            if not np.all(np.isfinite(c)):
                raise np.linalg.LinAlgError("non-finite Levinson solution")
        except np.linalg.LinAlgError:
            gram = scipy.linalg.toeplitz(autocorr[i])
            try:
                c = np.linalg.solve(gram, crosscorr[i])
            except np.linalg.LinAlgError:
                c = np.linalg.lstsq(gram, crosscorr[i], rcond=None)[0]
        coefs[i] = c
    projection = scipy.fft.irfft(ref_spec * scipy.fft.rfft(coefs, n_fft, axis=1), n_fft, axis=1)[:, :n_out]
    residual = -projection
    residual[:, :length] += ests
    target_energy = np.einsum("it,it->i", projection, projection)
    residual_energy = np.einsum("it,it->i", residual, residual)
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10 * np.log10(target_energy / residual_energy)


# --------------------------------------------------------------------------------------
# PESQ
# --------------------------------------------------------------------------------------

PESQ_RATES = (8000, 16000)


def default_pesq_mode(sample_rate: int) -> str:
    """``"nb"`` at 8 kHz, ``"wb"`` at 16 kHz (design section 6). ValueError at other rates."""
    if sample_rate == 8000:
        return "nb"
    if sample_rate == 16000:
        return "wb"
    raise ValueError(f"PESQ is defined at 8000 or 16000 Hz only, not {sample_rate} Hz")


def check_pesq_mode(mode: str, sample_rate: int) -> str:
    """Validate a PESQ mode for a rate: nb at 8 or 16 kHz, wb only at 16 kHz."""
    if mode not in ("nb", "wb"):
        raise ValueError(f"pesq mode must be 'nb' or 'wb', got {mode!r}")
    if sample_rate not in PESQ_RATES:
        raise ValueError(f"PESQ is defined at 8000 or 16000 Hz only, not {sample_rate} Hz")
    if mode == "wb" and sample_rate != 16000:
        raise ValueError(f"wide-band PESQ needs 16000 Hz audio, the data is at {sample_rate} Hz")
    return mode


#: the longest signal PESQ is given, in seconds. The pesq package's C code (ITU-T P.862) is
#: meant for utterances of a few seconds; on long signals it crashes the process (measured here
#: with real speech: 100 s at 8 kHz scored, 110 s at 8 kHz killed the process with SIGSEGV; a
#: user saw it from 60 s). Longer utterances get a NaN with this reason instead of a crash.
PESQ_MAX_SECONDS = 50.0


def pesq(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, mode: str | None = None) -> float:
    """PESQ MOS-LQO by the ``pesq`` package (P.862 ``"nb"`` or P.862.2 ``"wb"``).

    ``mode`` None picks the default for the rate (:func:`default_pesq_mode`). The package's own
    failures on silent or too short inputs (NoUtterancesError, BufferTooShortError,
    ValueError, ...) become :class:`MetricError` with the reason, and so does a signal longer
    than :data:`PESQ_MAX_SECONDS` (which the package can crash on).

    Shape: ``reference [T]``, ``estimate [T]``.
    """
    import pesq as pesq_pkg

    mode = check_pesq_mode(mode or default_pesq_mode(sample_rate), sample_rate)
    ref = _as_float64(reference, "reference", 1)
    est = _as_float64(estimate, "estimate", 1)
    if ref.shape != est.shape:
        raise MetricError(f"reference {ref.shape} and estimate {est.shape} differ in shape")
    _check_signals(ref, est)
    if ref.shape[-1] > PESQ_MAX_SECONDS * sample_rate:
        raise MetricError(f"pesq not computed on {ref.shape[-1] / sample_rate:.1f} s: longer than "
                          f"{PESQ_MAX_SECONDS:g} s, where the pesq library's C code can crash the process")
    try:
        return float(pesq_pkg.pesq(sample_rate, ref, est, mode))
    except (pesq_pkg.PesqError, ValueError, RuntimeError) as exc:
        msg = str(exc).strip() or "no message"
        raise MetricError(f"pesq {type(exc).__name__}: {msg}") from None


# --------------------------------------------------------------------------------------
# segmental SI-SNR
# --------------------------------------------------------------------------------------

#: a reference whose power on a segment is this far below its power over the whole
#: utterance counts as silent there (its SI-SNR would be dominated by the noise floor)
SILENT_SEGMENT_DB = -40.0
#: default fixed segment grid for static models (seconds; hop = half the length)
DEFAULT_SEGMENT_S = 0.25


def default_grid(sample_rate: int) -> tuple[int, int]:
    """The fixed grid for models without a trace: 0.25 s segments with 50 % overlap.

    Returns ``(length, hop)`` in samples (2000, 1000 at 8 kHz).
    """
    length = int(round(DEFAULT_SEGMENT_S * sample_rate))
    if length < 2:
        raise ValueError(f"sample rate {sample_rate} Hz is too low for a 0.25 s grid")
    return length, length // 2


def segmental_si_snr(references: np.ndarray, estimates: np.ndarray, length: int, hop: int,
                     n_segments: int, silent_db: float = SILENT_SEGMENT_DB) -> tuple[list[float], list[str | None]]:
    """SI-SNR per segment ``[s*hop, s*hop+length)`` (clipped to T), averaged over sources.

    ``estimates`` must already be aligned to ``references`` (after PIT). Each segment's SI-SNR
    is zero-mean on that segment. A segment gets NaN and a reason when:

    - any reference is silent there: its mean power on the segment is at most ``silent_db``
      (-40 dB) relative to that same reference's mean power over the whole utterance (so a
      quiet speaker is measured against its own level), or the segment power is digital
      silence (:data:`SILENT_POWER`); reason ``"silent reference in segment"``;
    - an estimate is silent there (reason ``"silent estimate in segment"``) or has non-finite
      samples there;
    - it has fewer than 2 samples (a segment beyond the end of the signal).

    Shape: ``references [n_src, T]``, ``estimates [n_src, T]`` -> ``n_segments`` values and
    ``n_segments`` reasons (None where the value is defined).
    """
    refs = np.asarray(references, dtype=np.float64)
    ests = np.asarray(estimates, dtype=np.float64)
    if refs.ndim != 2 or refs.shape != ests.shape:
        reason = f"references {refs.shape} and estimates {ests.shape} are not two equal [n_src, T] arrays"
        return [math.nan] * n_segments, [reason] * n_segments
    n_src, total = refs.shape
    finite_r = np.isfinite(refs)
    finite_e = np.isfinite(ests)
    refs_f = np.where(finite_r, refs, 0.0)
    ests_f = np.where(finite_e, ests, 0.0)
    mean_power = np.mean(refs_f ** 2, axis=1)
    threshold = np.maximum(mean_power * 10 ** (silent_db / 10), SILENT_POWER)
    all_refs_finite = bool(finite_r.all())

    starts = np.arange(n_segments, dtype=np.int64) * hop
    a = np.minimum(starts, total)
    b = np.minimum(starts + length, total)
    n = np.maximum(b - a, 1).astype(np.float64)
    # Every segment needs five sums over its samples (r, e, r^2, e^2, r*e). Segment bounds are
    # multiples of g = gcd(length, hop), or the end of the signal: cut the signals (zero-padded
    # to whole blocks; zeros add nothing) into blocks of g, sum each block once, and let each
    # segment add up its blocks. No sample of two overlapping segments is copied twice.
    g = math.gcd(int(length), int(hop)) or 1
    n_blocks = max(-(-total // g), 1)
    pad = n_blocks * g - total

    def prefix(x: np.ndarray) -> np.ndarray:
        x = np.pad(x, ((0, 0), (0, pad))) if pad else x
        sums = x.reshape(x.shape[0], n_blocks, g).sum(axis=2)
        return np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(sums, axis=1)], axis=1)
    ba, bb = a // g, -(-b // g)

    def seg(x: np.ndarray) -> np.ndarray:
        c = prefix(x)
        return c[:, bb] - c[:, ba]                                      # [n_src, S]
    bad_est = np.any(seg((~finite_e).astype(np.float64)) > 0, axis=0)
    sr, se = seg(refs_f), seg(ests_f)
    rr, ee = seg(refs_f * refs_f), seg(ests_f * ests_f)
    srr = rr - sr * sr / n                                              # centred energies
    see = ee - se * se / n
    sre = seg(refs_f * ests_f) - sr * se / n
    silent_ref = np.any((rr / n <= threshold[:, None]) | (srr / n <= SILENT_POWER), axis=0)
    silent_est = np.any(see / n <= SILENT_POWER, axis=0)
    short = (b - a) < 2

    values: list[float] = [math.nan] * n_segments
    reasons: list[str | None] = [None] * n_segments
    for s in range(n_segments):
        if short[s]:
            reasons[s] = "segment shorter than 2 samples"
        elif not all_refs_finite:
            reasons[s] = "non-finite reference"
        elif bad_est[s]:
            reasons[s] = "non-finite estimate in segment"
        elif silent_ref[s]:
            reasons[s] = "silent reference in segment"
        elif silent_est[s]:
            reasons[s] = "silent estimate in segment"
    # zero-mean SI-SNR from the sums: scale S_re / S_rr, target energy S_re^2 / S_rr, residual
    # S_ee - S_re^2 / S_rr. The residual is a difference of energies and loses digits when it is
    # tiny against them, so above _CLOSED_FORM_MAX_DB (where the closed form is still within
    # ~1e-10 dB) a segment is computed again from its samples.
    with np.errstate(divide="ignore", invalid="ignore"):
        target = sre * sre / srr
        pair = 10 * np.log10(np.maximum(target, EPS * EPS) / np.maximum(see - target, EPS * EPS))
    for s in range(n_segments):
        if reasons[s] is not None:
            continue
        if not np.all(pair[:, s] < _CLOSED_FORM_MAX_DB):
            lo, hi = int(a[s]), int(b[s])
            r = refs[:, lo:hi] - refs[:, lo:hi].mean(axis=1, keepdims=True)
            e = ests[:, lo:hi] - ests[:, lo:hi].mean(axis=1, keepdims=True)
            t = (np.sum(e * r, axis=1) / np.sum(r * r, axis=1))[:, None] * r
            with np.errstate(divide="ignore", invalid="ignore"):
                pair[:, s] = 10 * np.log10(np.maximum(np.sum(t * t, axis=1), EPS * EPS)
                                           / np.maximum(np.sum((e - t) ** 2, axis=1), EPS * EPS))
        v = float(np.mean(pair[:, s]))
        if math.isfinite(v):
            values[s] = v
        else:
            reasons[s] = "SI-SNR not finite in segment"
    return values, reasons


#: above this SI-SNR (dB) a segment is recomputed sample by sample (:func:`segmental_si_snr`)
_CLOSED_FORM_MAX_DB = 40.0


def mean_over_sources(values: Sequence[float]) -> float:
    """Mean of per-source values (NaN if any is NaN)."""
    return float(np.mean(np.asarray(values, dtype=np.float64)))


# --------------------------------------------------------------------------------------
# Assignment for many sources
# --------------------------------------------------------------------------------------

#: up to this many references, :func:`best_permutation` searches every permutation (8! = 40320
#: is a few ms); beyond, the Hungarian assignment gives the same optimum in polynomial time
EXHAUSTIVE_MAX_SOURCES = 8


def assignment_by_hungarian(score: np.ndarray) -> tuple[int, ...]:
    """The assignment :func:`best_permutation` defines (most defined pairs, then the highest
    mean over them), found by the Hungarian method instead of trying every permutation: each
    defined pair is worth a bonus larger than any spread of sums, so maximising the total
    maximises the number of defined pairs first and their sum (= mean, for a fixed count)
    second. Exact; among equal optima the one scipy's solver returns (deterministic).

    Shape: ``score [n_ref, n_est]``, ``n_est >= n_ref``.
    """
    from scipy.optimize import linear_sum_assignment
    score = np.asarray(score, dtype=np.float64)
    defined = ~np.isnan(score)
    if not defined.any():
        return tuple(range(score.shape[0]))
    finite = score[defined]
    bonus = (score.shape[0] + 1) * (float(finite.max() - finite.min()) + 1.0)
    value = np.where(defined, score - finite.min() + bonus, 0.0)
    rows, cols = linear_sum_assignment(value, maximize=True)
    out = np.empty(score.shape[0], dtype=int)
    out[rows] = cols
    return tuple(int(c) for c in out)
