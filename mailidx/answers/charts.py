"""The report's charts: matplotlib figures saved as SVG, ready to inline in one HTML page.

Each data series is one matplotlib line with a marker on every point and ``gid`` =
``series-<chart>-<name>``, so the SVG holds ``<g id="series-…">`` with one ``<use>`` per point
(tests count them in a browser). Text stays text (``svg.fonttype = none``: small, no glyph
outlines); matplotlib escapes it, and labels from the log are never read as mathtext. The
hashed ids of markers and clip paths are salted with the chart's name, so that several SVGs in
one page never share an id; the automatic group ids (``figure_1``, ``axes_1``, …, referred to
by nothing), the indentation and coordinates past a tenth of a point are left out to keep the
page small (a day's page of a busy host is about 100 KB).
"""

from __future__ import annotations

import io
import re

PALETTE = ("#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2")
AUTO_ID = re.compile(r' id="[A-Za-z0-9_.]+_\d+"')
COORDINATES = re.compile(r' (d|x|y|transform)="([^"]*)"')
PRECISE = re.compile(r"(\d+\.\d)\d+")


def _figure(width: float = 9.0, height: float = 3.0):
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "text.parse_math": False,
            "font.size": 9,
            "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    fig = Figure(figsize=(width, height))
    # fixed margins (a layout engine would cost more than the drawing): labels on the left,
    # the legend on the right
    fig.subplots_adjust(left=1.3 / width, right=1 - 1.4 / width, bottom=0.5 / height, top=0.95)
    return fig, fig.add_subplot()


def _svg(fig, name: str) -> str:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = name  # marker and clip ids unique to this chart
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    text = re.sub(r"\n\s+", "\n", AUTO_ID.sub("", text))
    return COORDINATES.sub(_tenths, text)


def _tenths(match: re.Match) -> str:
    return f' {match.group(1)}="{PRECISE.sub(_first_decimal, match.group(2))}"'


def _first_decimal(match: re.Match) -> str:
    return match.group(1)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "none"


def over_time(name: str, labels: list[str], series: dict[str, list[int]], ylabel: str) -> str:
    """One line per series over the window's buckets (hours or days)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure()
    x = list(range(len(labels)))
    for i, (key, values) in enumerate(series.items()):
        ax.plot(
            x,
            values,
            marker="o",
            markersize=3,
            linewidth=1.4,
            color=PALETTE[i % len(PALETTE)],
            label=key,
            gid=f"series-{name}-{slug(key)}",
        )
    # few ticks: making and measuring tick labels is most of matplotlib's time here
    step = max(1, -(-len(labels) // 8))
    ax.set_xticks(x[::step], labels[::step])
    ax.yaxis.set_major_locator(MaxNLocator(nbins=4, integer=True))
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "none in this period", ha="center", transform=ax.transAxes)
    return _svg(fig, name)


def delays(name: str, rows: list[dict]) -> str:
    """p50, p95 and max delivery delay per destination domain: a dot per value."""
    from matplotlib.ticker import FuncFormatter

    fig, ax = _figure(height=max(1.6, 0.3 * len(rows) + 0.9))
    y = list(range(len(rows)))
    for i, key in enumerate(("p50", "p95", "max")):
        ax.plot(
            [float(r[key]) for r in rows],
            y,
            linestyle="none",
            marker="o",
            markersize=5,
            color=PALETTE[i],
            label=key,
            gid=f"series-{name}-{key}",
        )
    ax.set_yticks(y, [r["domain"] for r in rows])
    ax.invert_yaxis()
    if max((float(r["max"]) for r in rows), default=0) > 100:
        ax.set_xscale("symlog", linthresh=1.0)  # seconds and hours on one axis
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlim(left=0)
    ax.set_xlabel("seconds from reception to delivery")
    ax.grid(axis="x", alpha=0.3)
    if rows:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    else:
        ax.text(0.5, 0.5, "no deliveries in this period", ha="center", transform=ax.transAxes)
    return _svg(fig, name)
