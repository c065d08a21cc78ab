"""Charts drawn on the server as SVG with pygal, fit for the site's strict CSP.

pygal puts a ``<style>`` and a ``<script>`` inside every chart. Neither may
reach the browser (the Content-Security-Policy allows styles and scripts from
files on this site only), so :func:`render` takes them out of the chart's
element tree, with every ``style`` attribute, and the charts are styled by
``/reports/charts.css`` instead: pygal's own stylesheet for the same style,
served as a file (:func:`stylesheet`). Without pygal's script the charts have
no tooltips; the table beside each chart carries the numbers.
"""

from __future__ import annotations

import math
import re
import sys
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from functools import lru_cache

import pygal
from markupsafe import Markup
from pygal.style import Style

# pygal adds an import hook for its map plugins (``pygal.maps.*``), which we
# do not use; it has no find_spec, so every later failed import in the process
# warns. Take it out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

# Large type: a chart 500 units wide is drawn about 300 pixels wide on a phone.
STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#1f2933",
    foreground_strong="#1f2933",
    foreground_subtle="#52606d",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    label_font_size=18,
    major_label_font_size=18,
    legend_font_size=18,
    value_font_size=16,
    title_font_size=20,
    # Colours that keep 3:1 contrast with white and differ for colour-blind readers.
    colors=(
        "#1f5fa8",
        "#c2410c",
        "#2f7d32",
        "#7b3fa0",
        "#a3141f",
        "#0f766e",
        "#8a5a00",
        "#4b5563",
        "#be185d",
        "#3730a3",
    ),
)
SERIES_MAX = 10  # beyond this a chart is unreadable; callers fold the rest into "other"

_ROOT_CLASS = "pygal-chart"


def _config(**extra: object) -> dict[str, object]:
    return {
        "style": STYLE,
        "js": [],
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 500,
        "height": 380,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 1,
        "truncate_legend": 28,
        "truncate_label": 14,
        "show_minor_x_labels": True,
        "print_values": False,
        "include_x_axis": True,
        "margin": 12,
        "classes": [_ROOT_CLASS, "chart-svg"],
        **extra,
    }


def _value_labels(
    series: Sequence[tuple[str, Sequence[float | None]]], stacked: bool
) -> list[float]:
    """Whole-number steps on the value axis (counts are never 0.2 of a lead)."""
    columns = [[v or 0 for v in values] for _, values in series] or [[0]]
    if stacked:
        top = max((sum(col) for col in zip(*columns, strict=False)), default=0)
    else:
        top = max((max(col, default=0) for col in columns), default=0)
    step = max(1, math.ceil(top / 5))
    return list(range(0, int(top) + step + 1, step)) if top else [0, 1]


def bar(
    label: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    stacked: bool = False,
    horizontal: bool = False,
) -> Markup:
    """A bar chart (stacked, or horizontal) as inline SVG named ``label``."""
    kind = pygal.StackedBar if stacked else pygal.HorizontalBar if horizontal else pygal.Bar
    many = len(x_labels) > 12
    chart = kind(
        **_config(
            x_label_rotation=0 if horizontal or not many else 40,
            show_legend=len(series) > 1,
            show_minor_x_labels=not many,
            x_labels_major_every=max(1, len(x_labels) // 8) if many else None,
            y_labels=_value_labels(series[:SERIES_MAX], stacked),
        )
    )
    chart.x_labels = list(x_labels)
    for name, values in series[:SERIES_MAX]:
        chart.add(name, list(values))
    return render(chart, label)


def line(
    label: str,
    x_labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
) -> Markup:
    """A line per series, without a dot per point: one path per series, so a
    chart of two years by week draws about as fast as one of a week (a bar
    per value took over a second for 104 weeks of nine sources)."""
    many = len(x_labels) > 12
    chart = pygal.Line(
        **_config(
            show_dots=len(x_labels) <= 2,
            stroke_style={"width": 3},
            x_label_rotation=40 if many else 0,
            show_legend=len(series) > 1,
            show_minor_x_labels=not many,
            x_labels_major_every=max(1, len(x_labels) // 6) if many else None,
            y_labels=_value_labels(series[:SERIES_MAX], False),
        )
    )
    chart.x_labels = list(x_labels)
    for name, values in series[:SERIES_MAX]:
        chart.add(name, list(values))
    return render(chart, label)


def render(chart: pygal.graph.graph.Graph, label: str) -> Markup:
    """The chart's SVG without style or script, named for screen readers."""
    root = chart.render_tree()
    _strip(root)
    for name in ("width", "height"):
        root.attrib.pop(name, None)
    root.set("role", "img")
    root.set("aria-label", label)
    root.set("focusable", "false")
    for title in root.iter("title"):
        title.text = label
    svg = ET.tostring(root, encoding="unicode")
    # The tree's text came through ElementTree, which escapes it: safe to embed.
    return Markup(svg)  # noqa: S704


def _strip(element: ET.Element) -> None:
    for child in list(element):
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag.rsplit("}", 1)[-1] in ("style", "script") or not tag:
            element.remove(child)  # a comment, a stylesheet or a script
            continue
        _strip(child)
    element.attrib.pop("style", None)
    for name in [n for n in element.attrib if n.lower().startswith("on")]:
        del element.attrib[name]


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """pygal's stylesheet for :data:`STYLE`, scoped to the charts' class, as
    pygal would have put it inside each chart."""
    sample = pygal.Bar(**_config())
    for n in range(SERIES_MAX):
        sample.add(str(n), [1])
    root = sample.render_tree()
    css = "\n".join(
        node.text or "" for node in root.iter() if isinstance(node.tag, str) and node.tag == "style"
    )
    css = re.sub(r"#chart-[0-9a-f-]+ ?", f".{_ROOT_CLASS} ", css)
    # The charts are drawn at the width of their box and keep their proportions.
    return css + "\n.pygal-chart{width:100%;height:auto;max-width:40rem}\n"
