"""One figure style for every dsnbench plot: colour-blind safe, readable in grey print.

Colours come from the Okabe-Ito palette (distinguishable under the common colour-vision
deficiencies). Because colour alone does not survive grey print, every family or curve also
gets its own marker and line style. Figures are saved as PNG (for the report and notebooks) and
PDF (vector, for papers) with :func:`save_figure`.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import matplotlib
import matplotlib.pyplot as plt

#: Okabe & Ito (2008), "Color Universal Design": black, orange, sky blue, bluish green,
#: yellow, blue, vermillion, reddish purple
OKABE_ITO = ["#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"]

#: fixed style per model family, so a family looks the same in every figure
FAMILY_STYLE: dict[str, dict] = {
    "static": {"color": "#0072B2", "marker": "o", "linestyle": "-", "label": "static"},
    "slim": {"color": "#E69F00", "marker": "s", "linestyle": "--", "label": "slimmable"},
    "dsn": {"color": "#D55E00", "marker": "^", "linestyle": "-.", "label": "DSN"},
    "oracle": {"color": "#000000", "marker": "*", "linestyle": ":", "label": "oracle"},
    "oracle-allocation": {"color": "#555555", "marker": "*", "linestyle": (0, (1, 1.5)), "label": "oracle allocation"},
    "adapter": {"color": "#CC79A7", "marker": "D", "linestyle": (0, (5, 1, 1, 1)), "label": "adapter"},
    "other": {"color": "#56B4E9", "marker": "P", "linestyle": (0, (1, 1)), "label": "other"},
}

#: extra styles for several curves of one family (e.g. DSN at several lambdas)
_EXTRA_MARKERS = ["^", "v", "<", ">", "p", "h", "X", "d"]
_EXTRA_LINES = ["-.", (0, (3, 1, 1, 1, 1, 1)), (0, (5, 2)), (0, (1, 1)), (0, (4, 1, 2, 1)), ":", "--", "-"]
_EXTRA_COLOURS = ["#009E73", "#CC79A7", "#56B4E9", "#000000", "#0072B2", "#E69F00"]

#: segment categories: light fills that differ in lightness and hatch, so grey print keeps them apart
CATEGORY_STYLE: dict[str, dict] = {
    "silence": {"color": "#FFFFFF", "hatch": "", "label": "silence"},
    "one": {"color": "#BBDDF2", "hatch": "..", "label": "one speaker"},
    "overlap": {"color": "#F5C98A", "hatch": "//", "label": "overlap"},
}

#: widths drawn from light to dark, so the order survives grey print (cividis is CVD-friendly)
WIDTH_CMAP = "cividis"

RC = {
    "figure.dpi": 110,
    "savefig.dpi": 200,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.color": "#d9d9d9",
    "grid.linewidth": 0.6,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 1.4,
    "lines.markersize": 6,
    "errorbar.capsize": 2.5,
    "pdf.fonttype": 42,  # embed TrueType: editable text in the PDF
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.bbox": "tight",
}


def use_headless_backend() -> None:
    """Draw without a display (the CLI and the report call this; notebooks keep their own)."""
    matplotlib.use("Agg")


@contextmanager
def style() -> Iterator[None]:
    """Apply the dsnbench style inside a ``with`` block (never changes global state)."""
    with plt.rc_context(RC):
        yield


def family_style(family: str) -> dict:
    return dict(FAMILY_STYLE.get(family, FAMILY_STYLE["other"]))


def curve_style(family: str, index_in_family: int = 0) -> dict:
    """Style of the ``index_in_family``-th curve of a family (0 = the family's own style)."""
    base = family_style(family)
    if index_in_family == 0:
        return base
    i = index_in_family - 1
    return {**base,
            "color": _EXTRA_COLOURS[i % len(_EXTRA_COLOURS)] if family == "dsn" else base["color"],
            "marker": _EXTRA_MARKERS[(i + 1) % len(_EXTRA_MARKERS)],
            "linestyle": _EXTRA_LINES[(i + 1) % len(_EXTRA_LINES)]}


def width_colours(widths: list[float]) -> dict[float, tuple]:
    """A colour per width, light (narrow) to dark (wide)."""
    cmap = plt.get_cmap(WIDTH_CMAP)
    ws = sorted(widths)
    if len(ws) == 1:
        return {ws[0]: cmap(0.3)}
    # from 0.95 (light yellow) down to 0.05 (dark blue): wider is darker
    return {w: cmap(0.95 - 0.9 * i / (len(ws) - 1)) for i, w in enumerate(ws)}


def save_figure(fig: "plt.Figure", out_dir: str | Path, name: str, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Save ``fig`` as ``out_dir/name.{png,pdf}``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        p = out / f"{name}.{fmt}"
        # no timestamps in PDF metadata: the same run gives the same files
        meta = {"CreationDate": None} if fmt == "pdf" else ({"Software": None} if fmt == "png" else None)
        fig.savefig(p, format=fmt, metadata=meta, bbox_inches="tight", dpi=RC["savefig.dpi"])
        paths.append(p)
    return paths


def mark_synthetic(fig: "plt.Figure", summary: dict | None) -> None:
    """Stamp a figure made from the synthetic demo run, so it is never mistaken for a result."""
    if summary and summary.get("synthetic"):
        fig.text(0.5, 0.5, "SYNTHETIC DEMO DATA", ha="center", va="center", rotation=25,
                 fontsize=26, color="#888888", alpha=0.25, zorder=100)
