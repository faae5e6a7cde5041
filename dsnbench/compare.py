"""Compare two runs (a baseline and a new one) and find regressions: the core of CI use.

Two runs are compared entry by entry (one entry = model x dataset x operating point, design
section 7) and, within an entry, metric by metric: every model metric and improvement the
summary holds (``si_snri``, ``sdr``, ``pesqi``...; the ``*_input`` values describe the data,
not the model, and are left out), the compute cost ``gmacs_per_s``, and the failure counts.

A change is a regression when the new mean is worse than the baseline's by more than the
metric's absolute tolerance, in the metric's bad direction (lower for ``higher_is_better``
metrics, higher for costs such as GMAC/s). A change of exactly the tolerance is not a regression
(up to float rounding). The metadata (unit, direction, tolerance) is taken, in this order, from
``--tol`` (tolerance only), the baseline's ``metrics_meta``, the new run's ``metrics_meta``, then
the metric registry: the baseline is the contract, so a change cannot loosen its own check.

Beyond the numbers:

- a mean that was a number and is now NaN is a regression; NaN in both is reported, not judged;
- a per-metric failure count (``n_utterances.failed``) that grows is a regression, as is a
  smaller ``n_utterances.evaluated``;
- an entry or metric of the baseline that is missing from the new run is a regression; one that
  only the new run has is reported.

Two runs are *comparable* when they have the same schema version, the same dataset manifest hash
for every dataset both evaluated, and the same metric settings (unit and direction of each
shared metric, and any setting recorded beside it, such as the PESQ mode or the sample rate).
Their configs may differ (that is usually the point of comparing); the differing config keys are
listed as notes.

Exit codes (:attr:`Comparison.exit_code`): 0 nothing regressed, 1 a regression, 3 not comparable.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import UserError
from .results import EntryKey, json_safe, op_key

#: fields of a ``metrics_meta`` record that describe how to judge, not how the value was measured
_JUDGING_FIELDS = {"unit", "higher_is_better", "tolerance", "description", "help", "has_input"}

#: keys of a settings record that say which metrics ran, not how
_SELECTION_KEYS = {"metrics", "names"}

#: pseudo-metric name of a row about a whole entry (present in one run only)
ENTRY_ROW = "(entry)"

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE, EXIT_NOT_COMPARABLE = 0, 1, 2, 3


@dataclass(frozen=True)
class MetricMeta:
    """How to judge one metric: its unit, direction and absolute tolerance (in ``unit``)."""

    unit: str
    higher_is_better: bool
    tolerance: float
    source: str  # where the tolerance came from: --tol, baseline, new, registry


@dataclass
class Row:
    """One compared value: an entry's metric in the baseline and in the new run."""

    model: str
    dataset: str
    operating_point: float | None
    metric: str
    unit: str
    higher_is_better: bool | None
    tolerance: float | None
    baseline: float | None
    new: float | None
    #: new - baseline (NaN where either side is not a number)
    change: float | None
    #: ok, improved, regressed, became_nan, nan, fixed, missing_in_new, only_in_new, unjudged
    status: str
    regression: bool
    note: str = ""

    def key(self) -> tuple:
        return (self.model, self.dataset, self.operating_point)


@dataclass
class Comparison:
    """The outcome of :func:`compare_summaries`."""

    baseline: dict
    new: dict
    comparable: bool
    reasons: list[str]
    notes: list[str]
    rows: list[Row]
    tolerances: dict[str, MetricMeta] = field(default_factory=dict)

    @property
    def regressions(self) -> list[Row]:
        return [r for r in self.rows if r.regression]

    @property
    def verdict(self) -> str:
        if not self.comparable:
            return "not_comparable"
        return "regression" if self.regressions else "ok"

    @property
    def exit_code(self) -> int:
        if not self.comparable:
            return EXIT_NOT_COMPARABLE
        return EXIT_REGRESSION if self.regressions else EXIT_OK

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.status] = out.get(r.status, 0) + 1
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """A JSON-ready dict; NaN becomes null."""
        return json_safe({
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "comparable": self.comparable,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "baseline": self.baseline,
            "new": self.new,
            "counts": self.counts(),
            "n_regressions": len(self.regressions),
            "tolerances": {k: asdict(v) for k, v in sorted(self.tolerances.items())},
            "rows": [asdict(r) for r in self.rows],
        })

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def to_text(self, show: str = "all") -> str:
        """A terminal table; ``show`` is all, changed (not ok) or regressions."""
        lines = [_headline(self), f"  baseline: {_describe(self.baseline)}", f"  new:      {_describe(self.new)}"]
        for r in self.reasons:
            lines.append(f"  not comparable: {r}")
        for n in self.notes:
            lines.append(f"  note: {n}")
        rows = _select(self.rows, show)
        if rows:
            header = ["model", "dataset", "op", "metric", "baseline", "new", "change", "tol", "status"]
            body = [[r.model, r.dataset, _fmt_op(r.operating_point), r.metric, *_cells(r),
                     ("REGRESSED " if r.regression else "") + r.status + (f" ({r.note})" if r.note else "")]
                    for r in rows]
            widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
            right = {4, 5, 6, 7}

            def line(cells: list[str]) -> str:
                return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
            lines += ["", line(header), line(["-" * w for w in widths])] + [line(b) for b in body]
        elif self.rows:
            lines.append(f"  (no rows with show={show})")
        counts = ", ".join(f"{v} {k}" for k, v in self.counts().items())
        lines += ["", f"{len(self.rows)} compared values: {counts or 'none'}"]
        return "\n".join(lines) + "\n"

    def to_markdown(self) -> str:
        """Markdown for a pull-request comment or a CI job summary."""
        icon = {"ok": ":white_check_mark:", "regression": ":x:", "not_comparable": ":warning:"}[self.verdict]
        out = [f"### dsnbench compare: {icon} {_headline(self)}", "",
               f"- baseline: {_md(_describe(self.baseline))}", f"- new: {_md(_describe(self.new))}"]
        out += [f"- **not comparable**: {_md(r)}" for r in self.reasons]
        out += [f"- note: {_md(n)}" for n in self.notes]
        counts = ", ".join(f"{v} {k}" for k, v in self.counts().items())
        out += [f"- {len(self.rows)} compared values: {counts or 'none'}", ""]
        header = "| model | dataset | op | metric | baseline | new | change | tol | status |\n" \
                 "|---|---|---|---|--:|--:|--:|--:|---|"

        def table(rows: list[Row]) -> list[str]:
            return [header] + [
                f"| {_md(r.model)} | {_md(r.dataset)} | {_fmt_op(r.operating_point)} | {_md(r.metric)} | "
                f"{' | '.join(_cells(r))} | "
                f"{'**' + r.status + '**' if r.regression else r.status}{(' (' + _md(r.note) + ')') if r.note else ''} |"
                for r in rows]
        if self.regressions:
            out += ["#### Regressions", ""] + table(self.regressions) + [""]
        if self.rows:
            out += ["<details><summary>All compared values</summary>", ""] + table(self.rows) + ["", "</details>", ""]
        return "\n".join(out)


# ---------------------------------------------------------------------- loading
def load_summary(path: str | Path) -> dict:
    """``summary.json`` of a run folder or the file itself; a bad path is a :class:`UserError`."""
    from .results import ResultsError, read_summary
    p = Path(path)
    if not p.exists():
        raise UserError(f"{p}: no such run folder or summary.json")
    try:
        return read_summary(p)
    except ResultsError as exc:
        # a summary of another schema version is readable as JSON but not comparable: let
        # compare_summaries say so (exit 3) rather than call it a usage error
        raw = _read_raw(p)
        if raw is not None and "schema_version" in raw and isinstance(raw.get("entries"), list):
            return raw
        raise UserError(str(exc)) from None


def _read_raw(p: Path) -> dict | None:
    f = p / "summary.json" if p.is_dir() else p
    try:
        obj = json.loads(f.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


# ---------------------------------------------------------------------- metadata
def registry_meta(name: str) -> MetricMeta | None:
    """Metadata of ``name`` from the metric registry; an improvement ``<m>i`` inherits ``<m>``'s."""
    from .metrics import column_info
    info = column_info(name)
    if info is None:
        return None
    s = info.spec
    return MetricMeta(s.unit, s.higher_is_better, float(s.tolerance), "registry")


def _meta_from_summary(summary: Mapping, name: str, source: str) -> MetricMeta | None:
    rec = (summary.get("metrics_meta") or {}).get(name)
    if not isinstance(rec, Mapping):
        return None
    try:
        meta = MetricMeta(str(rec.get("unit", "")), bool(rec["higher_is_better"]), float(rec["tolerance"]), source)
    except (KeyError, TypeError, ValueError):
        return None
    if not math.isfinite(meta.tolerance) or meta.tolerance < 0:
        # a NaN or huge tolerance would judge any change "ok"
        raise UserError(f"the {source} run's metrics_meta gives {name} the tolerance {rec['tolerance']!r}; "
                        f"a tolerance must be a finite number >= 0 (override with --tol {name}=VALUE)")
    return meta


def resolve_meta(name: str, baseline: Mapping, new: Mapping,
                 overrides: Mapping[str, float] | None = None) -> MetricMeta | None:
    """The metadata used to judge ``name``: baseline, new run, registry; ``--tol`` wins."""
    meta = (_meta_from_summary(baseline, name, "baseline") or _meta_from_summary(new, name, "new")
            or registry_meta(name))
    if overrides and name in overrides:
        if meta is None:
            return None
        meta = MetricMeta(meta.unit, meta.higher_is_better, float(overrides[name]), "--tol")
    return meta


def parse_tolerances(items: Iterable[str] | None) -> dict[str, float]:
    """``["si_snri=0.1", "gmacs_per_s=0.01"]`` -> ``{"si_snri": 0.1, ...}``; bad input: UserError."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UserError(f"--tol {item!r}: expected METRIC=VALUE, e.g. --tol si_snri=0.1")
        try:
            tol = float(value)
        except ValueError:
            raise UserError(f"--tol {item!r}: {value!r} is not a number") from None
        if not math.isfinite(tol) or tol < 0:
            raise UserError(f"--tol {item!r}: the tolerance must be a finite number >= 0")
        out[name] = tol
    return out


# ---------------------------------------------------------------------- comparability
def inference_precision(summary: Mapping) -> str:
    """The precision a run's inference ran in (``inference.precision``, else the config's;
    runs from before either was recorded ran in fp32)."""
    rec = summary.get("inference") or {}
    return str(rec.get("precision") or (summary.get("config") or {}).get("precision") or "fp32")


def comparability(baseline: Mapping, new: Mapping, allow_precision: bool = False) -> tuple[list[str], list[str]]:
    """(reasons the two are not comparable, notes); no reasons means comparable. Runs whose
    inference precision differs are not comparable unless ``allow_precision``."""
    reasons: list[str] = []
    notes: list[str] = []
    pb, pn = inference_precision(baseline), inference_precision(new)
    if pb != pn:
        text = f"inference precision differs (baseline {pb}, new {pn})"
        if allow_precision:
            notes.append(text + "; compared anyway (--allow-precision)")
        else:
            reasons.append(text + "; pass --allow-precision to compare them anyway")
    vb, vn = baseline.get("schema_version"), new.get("schema_version")
    if vb != vn:
        reasons.append(f"schema_version differs: baseline {vb!r}, new {vn!r}")

    db, dn = baseline.get("datasets") or {}, new.get("datasets") or {}
    for ds in sorted(set(db) & set(dn)):
        hb, hn = (db[ds] or {}).get("manifest_hash"), (dn[ds] or {}).get("manifest_hash")
        if not hb or not hn:
            side = "baseline" if not hb else "new"
            reasons.append(f"dataset {ds}: the {side} run records no manifest_hash")
        elif hb != hn:
            reasons.append(f"dataset {ds}: manifest_hash differs (baseline {_short(hb)}, new {_short(hn)}): "
                           "not the same utterances")
    eb, en = _entry_datasets(baseline), _entry_datasets(new)
    if eb and en and not eb & en:
        reasons.append(f"the runs share no dataset (baseline: {', '.join(sorted(eb))}; new: {', '.join(sorted(en))}): "
                       "a dataset's label is part of every entry, so nothing would be compared")
    for ds in sorted(eb & en):
        if ds not in db or ds not in dn:
            side = "baseline" if ds not in db else "new"
            reasons.append(f"dataset {ds}: the {side} run records no manifest for it")

    mb, mn = baseline.get("metrics_meta") or {}, new.get("metrics_meta") or {}
    for name in sorted(set(mb) & set(mn)):
        rb, rn = mb[name] or {}, mn[name] or {}
        for key in sorted((set(rb) | set(rn)) - (_JUDGING_FIELDS - {"unit", "higher_is_better"})):
            if rb.get(key) != rn.get(key):
                reasons.append(f"metric {name}: {key} differs (baseline {rb.get(key)!r}, new {rn.get(key)!r})")
        if rb.get("tolerance") != rn.get("tolerance") and "tolerance" in rb and "tolerance" in rn:
            notes.append(f"metric {name}: tolerance {rb.get('tolerance')!r} in the baseline, "
                         f"{rn.get('tolerance')!r} in the new run; the baseline's is used")
    shared = set(db) & set(dn)
    sb, sn = metric_settings(baseline, shared), metric_settings(new, shared)
    for key in sorted(set(sb) | set(sn)):
        if key in sb and key in sn and sb[key] != sn[key]:
            reasons.append(f"metric setting {key} differs (baseline {sb[key]!r}, new {sn[key]!r})")

    if baseline.get("config_hash") and baseline.get("config_hash") == new.get("config_hash"):
        notes.append("same config_hash")
    else:
        diff = config_diff(baseline.get("config") or {}, new.get("config") or {})
        if diff:
            shown = ", ".join(diff[:8]) + (f" and {len(diff) - 8} more" if len(diff) > 8 else "")
            notes.append(f"config differs in: {shown}")
    return reasons, notes


def metric_settings(summary: Mapping, datasets: Iterable[str] | None = None) -> dict[str, Any]:
    """The settings the metric values depend on besides the audio, as flat ``key: value``.

    From a top-level ``metric_settings`` record if the summary has one (flat, or one record per
    dataset name; the list of metrics that ran is left out); the sample rate of each
    dataset in ``datasets`` (the shared ones); and the PESQ mode per dataset when PESQ was
    measured, resolved as the metric does (``config.pesq_mode``, else narrow-band at 8 kHz and
    wide-band at 16 kHz), so an explicit mode equal to the automatic one is not a difference.
    """
    out: dict[str, Any] = {}
    ds_info = summary.get("datasets") or {}
    rec = summary.get("metric_settings")
    if isinstance(rec, Mapping):
        for key, value in _flatten(rec).items():
            head, last = key.split(".")[0], key.split(".")[-1]
            if last in _SELECTION_KEYS:
                continue  # which metrics ran is compared metric by metric, not as a setting
            if last == "pesq_mode":
                continue  # compared below as resolved per dataset (None = automatic = nb/wb by rate)
            if head in ds_info and datasets is not None and head not in datasets:
                continue  # settings of a dataset only one run evaluated
            out[key] = value
    config = summary.get("config") if isinstance(summary.get("config"), Mapping) else {}
    names = set(summary.get("metrics_meta") or {}) | set(_metric_names(summary))
    for ds in sorted(datasets if datasets is not None else ds_info):
        sr = (ds_info.get(ds) or {}).get("sample_rate")
        if sr is None:
            continue
        out[f"sample_rate[{ds}]"] = int(sr)
        if names & {"pesq", "pesqi"}:
            mode = config.get("pesq_mode") or ("wb" if int(sr) == 16000 else "nb")
            out[f"pesq_mode[{ds}]"] = str(mode)
    return out


def _metric_names(summary: Mapping) -> set[str]:
    return {n for e in summary.get("entries") or [] if isinstance(e, Mapping) for n in (e.get("metrics") or {})}


def config_diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two JSON-like configs differ."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            p = f"{prefix}.{k}" if prefix else str(k)
            if k not in a or k not in b:
                out.append(p)
            else:
                out += config_diff(a[k], b[k], p)
        return out
    return [] if a == b else [prefix or "(root)"]


# ---------------------------------------------------------------------- comparing
def compare_summaries(baseline: Mapping, new: Mapping, tolerances: Mapping[str, float] | None = None,
                      baseline_label: str = "", new_label: str = "", allow_precision: bool = False) -> Comparison:
    """Compare two schema-v1 summaries; see the module docstring for the rules.

    ``tolerances`` overrides the absolute tolerance per metric name; a name that matches no
    compared metric is a :class:`UserError` (a typo would otherwise silently check nothing).
    A summary whose fields have the wrong types, or a mean of +-inf, is a UserError (exit 2,
    one line), never a crash that would read as exit 1 (a regression) or a verdict of OK.
    """
    try:
        return _compare(baseline, new, tolerances, baseline_label, new_label, allow_precision)
    except (TypeError, AttributeError, KeyError, ValueError) as exc:
        raise UserError(f"malformed summary ({type(exc).__name__}: {exc}); each run's summary.json must be "
                        f"as dsnbench wrote it") from None


def _compare(baseline: Mapping, new: Mapping, tolerances: Mapping[str, float] | None,
             baseline_label: str, new_label: str, allow_precision: bool) -> Comparison:
    for summary, label in ((baseline, baseline_label or "baseline"), (new, new_label or "new")):
        for field_name in ("datasets", "metrics_meta"):
            if not isinstance(summary.get(field_name) or {}, Mapping):
                raise TypeError(f"{label}: '{field_name}' is a {type(summary[field_name]).__name__}, not a mapping")
    tolerances = dict(tolerances or {})
    reasons, notes = comparability(baseline, new, allow_precision)
    info_b = _run_info(baseline, baseline_label)
    info_n = _run_info(new, new_label)
    entries_b = _entries(baseline, baseline_label or "baseline")
    entries_n = _entries(new, new_label or "new")

    rows: list[Row] = []
    used: dict[str, MetricMeta] = {}
    seen_names: set[str] = set()
    for key in sorted(set(entries_b) | set(entries_n), key=_sort_key):
        model, dataset, op = key
        eb, en = entries_b.get(key), entries_n.get(key)
        if eb is None or en is None:
            rows.append(Row(model, dataset, op, ENTRY_ROW, "", None, None, None, None, None,
                            "missing_in_new" if en is None else "only_in_new", en is None,
                            "entry not in the new run" if en is None else "entry not in the baseline"))
            continue
        vb, vn = _values(eb), _values(en)
        names = list(vb) + [n for n in vn if n not in vb]
        for name in names:
            seen_names.add(name)
            meta = resolve_meta(name, baseline, new, tolerances)
            if meta is not None:
                used[name] = meta
            rows.append(_judge(model, dataset, op, name, vb.get(name, _ABSENT), vn.get(name, _ABSENT), meta))
        rows += _count_rows(model, dataset, op, eb, en)

    unknown = sorted(set(tolerances) - seen_names)
    if unknown and seen_names:
        import difflib
        hints = []
        for u in unknown:
            close = difflib.get_close_matches(u, sorted(seen_names), n=1)
            hints.append(f"{u!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise UserError(f"--tol names no compared metric: {', '.join(hints)}; "
                        f"compared metrics: {', '.join(sorted(seen_names))}")
    reasons = list(dict.fromkeys(reasons))  # each reason once
    if reasons:
        # values of runs that cannot be compared are shown, never judged: no row regresses
        for r in rows:
            r.regression = False
    return Comparison(info_b, info_n, not reasons, reasons, notes, rows, used)


_ABSENT = object()


def _judge(model: str, dataset: str, op: float | None, name: str, b: Any, n: Any,
           meta: MetricMeta | None) -> Row:
    unit = meta.unit if meta else ""
    hib = meta.higher_is_better if meta else None
    tol = meta.tolerance if meta else None
    if n is _ABSENT:
        return Row(model, dataset, op, name, unit, hib, tol, _num(b), None, None, "missing_in_new", True,
                   "metric not in the new run")
    if b is _ABSENT:
        return Row(model, dataset, op, name, unit, hib, tol, None, _num(n), None, "only_in_new", False,
                   "metric not in the baseline")
    b, n = _num(b), _num(n)
    for side, v in (("baseline", b), ("new run", n)):
        if math.isinf(v):
            raise UserError(f"the {side}'s {name} of {model} on {dataset} is {v}: not a value to compare")
    b_nan, n_nan = math.isnan(b), math.isnan(n)
    change = float("nan") if (b_nan or n_nan) else n - b
    if b_nan and n_nan:
        return Row(model, dataset, op, name, unit, hib, tol, b, n, change, "nan", False, "NaN in both runs")
    if n_nan:
        return Row(model, dataset, op, name, unit, hib, tol, b, n, change, "became_nan", True,
                   "a number in the baseline, NaN now")
    if b_nan:
        return Row(model, dataset, op, name, unit, hib, tol, b, n, change, "fixed", False,
                   "NaN in the baseline, a number now")
    if meta is None:
        return Row(model, dataset, op, name, unit, hib, tol, b, n, change, "unjudged", False,
                   "no metadata (direction, tolerance) for this metric")
    worse = -change if meta.higher_is_better else change
    slack = 1e-9 * max(1.0, abs(b), abs(n))  # a change of exactly the tolerance is not a regression
    if worse > meta.tolerance + slack:
        status, regression = "regressed", True
    elif -worse > meta.tolerance + slack:
        status, regression = "improved", False
    else:
        status, regression = "ok", False
    return Row(model, dataset, op, name, unit, hib, tol, b, n, change, status, regression)


def _count_rows(model: str, dataset: str, op: float | None, eb: Mapping, en: Mapping) -> list[Row]:
    """Failure counts that grew, and a smaller number of evaluated utterances: regressions."""
    rows = []
    nb, nn = eb.get("n_utterances") or {}, en.get("n_utterances") or {}
    fb, fn = nb.get("failed") or {}, nn.get("failed") or {}
    for metric in sorted(set(fb) | set(fn)):
        b, n = int(fb.get(metric, 0) or 0), int(fn.get(metric, 0) or 0)
        if b == 0 and n == 0:
            continue
        status = "regressed" if n > b else ("improved" if n < b else "ok")
        rows.append(Row(model, dataset, op, f"failed[{metric}]", "utterances", False, 0.0, float(b), float(n),
                        float(n - b), status, n > b, "more utterances failed" if n > b else ""))
    if "evaluated" in nb and "evaluated" in nn and nb["evaluated"] != nn["evaluated"]:
        b, n = int(nb["evaluated"]), int(nn["evaluated"])
        rows.append(Row(model, dataset, op, "evaluated", "utterances", True, 0.0, float(b), float(n), float(n - b),
                        "regressed" if n < b else "improved", n < b,
                        "fewer utterances evaluated" if n < b else ""))
    return rows


def _values(entry: Mapping) -> dict[str, Any]:
    """Metric name -> mean, for the model metrics, improvements and gmacs_per_s of one entry."""
    out: dict[str, Any] = {}
    for name, rec in (entry.get("metrics") or {}).items():
        if name.endswith("_input"):
            continue
        out[name] = rec.get("mean") if isinstance(rec, Mapping) else rec
    if "gmacs_per_s" in entry and entry["gmacs_per_s"] is not None:
        rec = entry["gmacs_per_s"]
        out["gmacs_per_s"] = rec.get("mean") if isinstance(rec, Mapping) else rec
    return out


def _entries(summary: Mapping, label: str) -> dict[EntryKey, Mapping]:
    out: dict[EntryKey, Mapping] = {}
    entries = summary.get("entries")
    if not isinstance(entries, list):
        raise UserError(f"{label}: summary has no 'entries' list")
    for e in entries:
        try:
            key = EntryKey(str(e["model"]), str(e["dataset"]), _op(e.get("operating_point")))
        except (KeyError, TypeError):
            raise UserError(f"{label}: an entry lacks model or dataset: {json.dumps(e)[:120]}") from None
        if key in out:
            raise UserError(f"{label}: entry {key[0]} / {key[1]} / op {_fmt_op(key[2])} appears twice")
        out[key] = e
    return out


def _entry_datasets(summary: Mapping) -> set[str]:
    return {str(e.get("dataset")) for e in summary.get("entries") or [] if isinstance(e, Mapping)}


def _run_info(summary: Mapping, label: str) -> dict:
    return {"path": label, "run_id": summary.get("run_id"), "created": summary.get("created"),
            "git_commit": summary.get("git_commit"), "config_hash": summary.get("config_hash"),
            "schema_version": summary.get("schema_version")}


def _op(v: Any) -> float | None:
    try:
        return op_key(v)
    except ValueError:
        raise UserError(f"operating_point {v!r} is not a number or null") from None


def _num(v: Any) -> float:
    """A summary's number (null is NaN, as the writer stores it); text, a bool or a list is a
    TypeError, so the summary is reported malformed instead of reading as NaN."""
    if v is None:
        return float("nan")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"{v!r} where a number was expected")
    return float(v)


def _sort_key(key: tuple) -> tuple:
    model, dataset, op = key
    return (model, dataset, op is not None, op if op is not None else 0.0)


def _select(rows: list[Row], show: str) -> list[Row]:
    if show == "regressions":
        return [r for r in rows if r.regression]
    if show == "changed":
        return [r for r in rows if r.status != "ok"]
    return rows


def _headline(c: Comparison) -> str:
    if not c.comparable:
        return f"NOT COMPARABLE ({len(c.reasons)} reason{'s' if len(c.reasons) != 1 else ''})"
    n = len(c.regressions)
    return f"REGRESSION: {n} of {len(c.rows)} compared values regressed" if n else \
        f"OK: no regression beyond tolerance ({len(c.rows)} compared values)"


def _describe(info: Mapping) -> str:
    parts = [str(info.get("path") or "")]
    if info.get("run_id"):
        parts.append(f"run {info['run_id']}")
    if info.get("git_commit"):
        parts.append(f"commit {str(info['git_commit'])[:10]}")
    if info.get("created"):
        parts.append(str(info["created"]))
    return ", ".join(p for p in parts if p)


def _short(h: Any) -> str:
    return str(h)[:12]


def _fmt(v: float | None, signed: bool = False, integer: bool = False) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if integer:
        return f"{v:+.0f}" if signed else f"{v:.0f}"
    return f"{v:+.4f}" if signed else f"{v:.4f}"


def _cells(r: Row) -> list[str]:
    """baseline, new, change, tolerance of a row, formatted."""
    i = r.unit == "utterances"
    return [_fmt(r.baseline, integer=i), _fmt(r.new, integer=i), _fmt(r.change, signed=True, integer=i),
            _fmt(r.tolerance, integer=i)]


def _fmt_op(op: float | None) -> str:
    return "-" if op is None else f"{op:g}"


def _md(s: str) -> str:
    return str(s).replace("|", "\\|")


def _flatten(d: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        p = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, Mapping):
            out.update(_flatten(v, p))
        else:
            out[p] = v
    return out


def compare_paths(baseline: str | Path, new: str | Path, tolerances: Mapping[str, float] | None = None,
                  allow_precision: bool = False) -> Comparison:
    """:func:`compare_summaries` on two run folders or summary.json files."""
    return compare_summaries(load_summary(baseline), load_summary(new), tolerances,
                             baseline_label=str(baseline), new_label=str(new), allow_precision=allow_precision)
