"""The evaluation of one utterance, as both engines do it: separate, price, score, rows.

:class:`UtteranceEvaluator` is the public per-utterance evaluator of one entry (a separator set
up for a dataset and an operating point). The local engine calls :meth:`~UtteranceEvaluator.separate`
in its main process, hands :attr:`Separated.job` to its metric pool and turns the answer into
rows with :meth:`~UtteranceEvaluator.rows`; a Dask worker calls
:meth:`~UtteranceEvaluator.evaluate`, which does all of it in the worker. Both therefore write
the same rows. Nothing here knows which engine called it.

Failure policy: one utterance's failure (audio that cannot be decoded, a separator that raises
or returns non-finite samples, a metric that crashes) is that utterance's error in its row,
never a lost run; a count that was not computed to completion is NaN, never 0.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..data.manifest import DatasetError, load_utterance
from ..metrics.cache import audio_fingerprint
from ..metrics.functional import default_grid
from ..results import EntryKey
from ..types import SegmentTrace
from .jobs import MetricJob, MetricResult, compute_metrics

#: (trace, n_samples) -> (MACs per segment [n_seg], total MACs)
Pricer = Callable[[SegmentTrace, int], "tuple[np.ndarray, float]"]
#: (utt_id, audio fingerprint) -> the utterance's cached input metrics, or None
InputsLookup = Callable[[str, str], Any]


def build_mac_table_on_cpu(separator: Any) -> Any:
    """The separator's MAC table, traced on the CPU in float32 whatever device and precision
    it runs inference in (MACs depend on neither), then put back where it was."""
    from ..complexity import build_mac_table
    device, precision = str(getattr(separator, "device", "cpu")), getattr(separator, "precision", "fp32")
    if device == "cpu" and precision == "fp32":
        return build_mac_table(separator)
    separator.to_device("cpu", "fp32")
    try:
        return build_mac_table(separator)
    finally:
        separator.to_device(device, precision)


_WARNED_UNCOUNTED: set[str] = set()


def make_pricer(separator: Any, sample_rate: int, uncounted_ops: str = "error") -> Pricer:
    """A function (trace, n_samples) -> (MACs per segment [n_seg], total MACs).

    ``complexity()`` None means the count is not defined (oracles that use the references):
    NaN. ``{"macs_per_second": r}`` is an exact closed form (e.g. 0 for the mixture oracle).
    Anything else goes to the fvcore MAC table, built once here per model. A forward that uses
    an op with no MAC rule is a UserError naming the ops, or with ``uncounted_ops="nan"`` a
    pricer of NaN MACs whose ``unknown_reason`` the rows carry (one warning per model).
    """
    from ..complexity import UnsupportedOpError
    name = getattr(separator, "name", type(separator).__name__)

    def refuse_or_mark(exc: Exception) -> None:
        if uncounted_ops != "nan":
            from ..errors import UserError
            raise UserError(f"model {name!r}: its MACs cannot be counted ({exc}); run with --uncounted-ops nan "
                            "to evaluate it with MACs unknown (NaN)") from None
        priced.unknown_reason = f"unknown: {exc}"  # type: ignore[attr-defined]
        if name not in _WARNED_UNCOUNTED:
            _WARNED_UNCOUNTED.add(name)
            import sys
            print(f"warning: model {name!r}: MACs unknown (NaN, counted per utterance): {exc}", file=sys.stderr)

    inner: Pricer | None = None

    def priced(trace: SegmentTrace, n: int) -> tuple[np.ndarray, float]:
        # a table may trace lazily (an adapter's, per input length): an op met there counts too
        if inner is not None and getattr(priced, "unknown_reason", None) is None:
            try:
                return inner(trace, n)
            except UnsupportedOpError as exc:
                refuse_or_mark(exc)
        return np.full(trace.n_segments, np.nan), math.nan
    priced.unknown_reason = None  # type: ignore[attr-defined]
    try:
        inner = _make_pricer(separator, sample_rate)
    except UnsupportedOpError as exc:
        refuse_or_mark(exc)
    return priced


def _make_pricer(separator: Any, sample_rate: int) -> Pricer:
    c = separator.complexity()
    if c is None:
        return lambda trace, n: (np.full(trace.n_segments, np.nan), math.nan)
    if isinstance(c, dict) and "macs_per_second" in c:
        rate = float(c["macs_per_second"])

        def by_rate(trace: SegmentTrace, n: int) -> tuple[np.ndarray, float]:
            total = rate * n / sample_rate
            return np.full(trace.n_segments, total / trace.n_segments), total
        return by_rate
    table = build_mac_table_on_cpu(separator)

    def by_table(trace: SegmentTrace, n: int) -> tuple[np.ndarray, float]:
        priced = table.price(trace, n)
        return np.asarray(priced.macs_per_segment, dtype=np.float64), float(priced.total_macs)
    return by_table


def check_estimate_shape(got: tuple, want: tuple) -> None:
    """Estimates ``[n_out, T]`` fit targets ``[n_src, T]`` when ``n_out == n_src``, or when the task
    has one target (enhancement: WHAM! enh_single/enh_both) and the model several outputs: the
    output closest to the target by SI-SNR is scored and its index is the row's permutation.
    Anything else is a ValueError that says which setting to change."""
    if len(got) == 2 and len(want) == 2 and got[1] == want[1]:
        if got[0] == want[0] or (want[0] == 1 and got[0] > 1):
            return
        if got[0] < want[0]:
            raise ValueError(f"estimates have shape {got}, expected {want}: the model gives {got[0]} output(s) "
                             f"for a task with {want[0]} sources (a model built for this task needs n_src={want[0]})")
    raise ValueError(f"estimates have shape {got}, expected {want}")


def length_batches(utterances: Sequence[Any], batch_size: int) -> list[list[Any]]:
    """The inference batches of an entry: its utterances sorted by length (then id) and cut
    into groups of ``batch_size``, so a batch pads little. Made from all the entry's
    utterances, done or not, so a resumed run forms the same batches (and, since a batch's
    padding can change the last float bits, the same numbers) as an uninterrupted one."""
    ordered = sorted(utterances, key=lambda u: (u.n_samples, u.utt_id))
    return [ordered[i:i + batch_size] for i in range(0, len(ordered), max(1, batch_size))]


def segment_grid(trace: SegmentTrace | None, n_samples: int, sample_rate: int) -> SegmentTrace:
    """The model's own trace, or the fixed grid (:func:`dsnbench.metrics.functional.default_grid`)
    for a model that reports none (its widths NaN)."""
    if trace is not None:
        return trace
    length, hop = default_grid(sample_rate)
    return SegmentTrace.constant(n_samples, length, hop, width=float("nan"))


def _release_accelerator_memory() -> None:
    import torch
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def join_errors(first: str | None, second: str) -> str:
    """Two error texts of one row, in order (``"a; b"``)."""
    return f"{first}; {second}" if first else second


@dataclass
class Separated:
    """One utterance separated and priced, its metrics not yet computed.

    ``row`` is the utterance row so far (keys, duration, MACs, error); ``job`` is what the
    metrics need (None when the audio could not be read: the row is final then); ``grid`` the
    segment grid the segment rows follow (None without audio).

    Shape: ``seg_macs [n_segments]``.
    """

    row: dict[str, Any]
    job: MetricJob | None
    grid: SegmentTrace | None = None
    has_trace: bool = False
    seg_macs: Any = None
    n_samples: int = 0
    fingerprint: str | None = None


def utterance_rows(done: Separated, result: MetricResult | None, sample_rate: int, error: str | None = None
                   ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The utterance row and its segment rows, from the separation and the metrics
    (``result`` None: the metrics failed, with ``error`` saying why, or were not run)."""
    row = dict(done.row)
    if error:
        row["error"] = join_errors(row.get("error"), error)
    if result is not None:
        row.update(result.values)
        row["permutation"] = json.dumps(list(result.permutation)) if result.permutation is not None else ""
        metric_errors = "; ".join(f"{k}: {v}" for k, v in sorted(result.errors.items()))
        if metric_errors:
            row["error"] = join_errors(row.get("error"), metric_errors)
    else:
        row.setdefault("permutation", "")
    grid = done.grid
    if grid is None:
        return row, []
    sr = sample_rate
    widths = grid.width_of_segments() if done.has_trace else np.full(grid.n_segments, np.nan)
    seg_rows = []
    for s in range(grid.n_segments):
        start = s * grid.hop
        end = min(start + grid.length, done.n_samples)
        seg_rows.append({
            "model": row["model"], "dataset": row["dataset"], "operating_point": row["operating_point"],
            "utt_id": row["utt_id"], "segment": s, "start_s": start / sr, "end_s": end / sr,
            "width": float(widths[s]), "macs": float(done.seg_macs[s]),
            "category": result.categories[s] if result is not None else None,
            "noise_active": result.noise_active[s] if result is not None else None,
            "seg_si_snr": result.seg_si_snr[s] if result is not None else math.nan,
        })
    return row, seg_rows


class UtteranceEvaluator:
    """Evaluates the utterances of one entry (``key``) with ``separator``, already set up for
    the dataset's sample rate and the entry's operating point.

    ``pricer`` (default: :func:`make_pricer`, which builds the model's MAC table) turns a trace
    into MACs; ``metrics`` and ``pesq_mode`` are the run's metric settings.
    """

    def __init__(self, separator: Any, key: EntryKey, sample_rate: int, metrics: tuple[str, ...] | None,
                 pesq_mode: str | None, pricer: Pricer | None = None, uncounted_ops: str = "error") -> None:
        self.separator = separator
        self.key = key
        self.sample_rate = int(sample_rate)
        self.metrics = metrics
        self.pesq_mode = pesq_mode
        self.pricer = pricer if pricer is not None else make_pricer(separator, self.sample_rate, uncounted_ops)

    def separate(self, utt: Any, inputs: InputsLookup | None = None) -> Separated:
        """Read one utterance, run the separator, price its trace; the metric job is ready.

        ``inputs`` looks up the utterance's cached input metrics (they go into the job; the
        job computes them when there are none).
        """
        return self.separate_batch([utt], inputs)[0]

    def separate_batch(self, utts: Sequence[Any], inputs: InputsLookup | None = None) -> list[Separated]:
        """:meth:`separate` of several utterances with one call of the separator's
        ``separate_batch`` (one forward for a batchable model). A batch that runs out of
        accelerator memory is split in halves and retried, down to one utterance; one that
        does not fit alone is that utterance's error row. Each result is what
        :meth:`separate` gives for the utterance alone (to float rounding)."""
        loaded: list[tuple[Any, dict, Any]] = []
        for utt in utts:
            row = {"model": self.key.model, "dataset": self.key.dataset,
                   "operating_point": self.key.operating_point, "utt_id": utt.utt_id,
                   "duration_s": utt.duration_s, "error": ""}
            try:
                audio = load_utterance(utt)
            except DatasetError as exc:
                # the layout was checked before the run; a body that fails to decode is this utterance's error
                row["error"] = f"data: {exc}"
                audio = None
            loaded.append((utt, row, audio))
        ready = [(utt, row, audio) for utt, row, audio in loaded if audio is not None]
        outcomes = dict(zip([id(x[0]) for x in ready], self._run_separator([a for _, _, a in ready])))
        out = []
        for utt, row, audio in loaded:
            if audio is None:
                out.append(Separated(row, None))
            else:
                out.append(self._finish(utt, row, audio, outcomes[id(utt)], inputs))
        return out

    def _run_separator(self, audios: list[tuple]) -> list[Any]:
        """The separator on each (mixture, sources, noise): a Separation or the exception it
        raised, per utterance. Out of accelerator memory: halves, then one at a time."""
        import torch

        if not audios:
            return []
        sep = self.separator
        mixes = [torch.from_numpy(m.astype(np.float32)) for m, _, _ in audios]
        refs = [torch.from_numpy(s.astype(np.float32)) for _, s, _ in audios] if sep.needs_references else None
        try:
            with torch.no_grad():
                if len(audios) == 1:
                    return [sep.separate(mixes[0], refs[0] if refs is not None else None)]
                return list(sep.separate_batch(mixes, refs))
        except torch.OutOfMemoryError as exc:
            if len(audios) == 1:
                return [MemoryError(f"out of memory on the device even for this utterance alone "
                                    f"({' '.join(str(exc).split())[:160]})")]
            _release_accelerator_memory()
            half = len(audios) // 2
            return self._run_separator(audios[:half]) + self._run_separator(audios[half:])
        except Exception as exc:  # one utterance's failure is an error row, never a lost run
            if len(audios) == 1:
                return [exc]
            # a batch that failed: each utterance alone, so only the failing one carries the error
            return [x for a in audios for x in self._run_separator([a])]

    def _finish(self, utt: Any, row: dict, audio: tuple, outcome: Any, inputs: InputsLookup | None) -> Separated:
        """Check and price one separation (or record why it failed); build the metric job."""
        mixture, sources, noise = audio
        n = mixture.shape[0]
        estimates, trace, err = None, None, ""
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            est = outcome.estimates
            if not est.is_floating_point():
                raise TypeError(f"estimates are {est.dtype}, expected floating point samples")
            est = est.detach().cpu().numpy().astype(np.float64)
            check_estimate_shape(tuple(est.shape), tuple(sources.shape))
            if not np.all(np.isfinite(est)):
                bad = int((~np.isfinite(est)).sum())
                err = f"separate: {bad} non-finite sample(s) in the estimates"
            estimates, trace = est, outcome.trace
        except Exception as exc:  # one utterance's failure is an error row, never a lost run
            err = f"separate: {type(exc).__name__}: {exc}"
        grid = segment_grid(trace, n, self.sample_rate)
        if estimates is not None:
            seg_macs, total_macs = self.pricer(grid, n)
        else:  # nothing was computed to completion: the count is undefined, not 0
            seg_macs, total_macs = np.full(grid.n_segments, np.nan), math.nan
        unknown = getattr(self.pricer, "unknown_reason", None)
        if unknown and estimates is not None:
            err = join_errors(err, f"macs: {unknown}")
        row.update(macs=total_macs, gmacs_per_s=total_macs / 1e9 / utt.duration_s,
                   mean_width=float(np.mean(grid.width_of_segments())) if trace is not None else math.nan,
                   error=err)
        fingerprint = audio_fingerprint(mixture, sources)
        job = MetricJob(utt.utt_id, estimates, sources, mixture, noise, grid.length, grid.hop,
                        grid.n_segments, self.metrics, self.sample_rate, self.pesq_mode,
                        inputs=inputs(utt.utt_id, fingerprint) if inputs is not None else None)
        return Separated(row, job, grid, trace is not None, seg_macs, n, fingerprint)

    def rows(self, done: Separated, result: MetricResult | None, error: str | None = None
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The utterance row and its segment rows (:func:`utterance_rows`)."""
        return utterance_rows(done, result, self.sample_rate, error)

    def evaluate(self, utt: Any, inputs: InputsLookup | None = None
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], MetricResult | None]:
        """Separate, price, score and make the rows of one utterance, all here; also returns
        the metric result (None when the metrics failed or the audio could not be read)."""
        done = self.separate(utt, inputs)
        if done.job is None:
            row, segs = self.rows(done, None)
            return row, segs, None
        try:
            result = compute_metrics(done.job)
        except Exception as exc:  # a metric crash is this utterance's error row
            row, segs = self.rows(done, None, f"metrics: {type(exc).__name__}: {exc}")
            return row, segs, None
        row, segs = self.rows(done, result)
        return row, segs, result
