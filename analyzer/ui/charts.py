"""The dashboard's charts as Altair (Vega-Lite) specifications, from a
:class:`analyzer.ui.services.patient.CourseView`.  Plain Python, no Streamlit: the pages show them with
``st.altair_chart`` and the report embeds the same specifications.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from analyzer.ui.services.patient import CourseView

__all__ = ["METRIC_CHARTS", "SEVERITY_COLOURS", "metric_chart", "recovery_chart"]

SEVERITY_COLOURS = {"info": "#5b7fa6", "warning": "#d08a1e", "urgent": "#c0392b"}
_EXPECTED = "#2f7d6d"
_POINT = "#22302c"

METRIC_CHARTS = {
    "flaking": ("flaking_change", "flaking_noise", "change (flakes/cm²)"),
    "texture": ("texture_change", "texture_noise", "change (%)"),
    "melanin": ("melanin_change", "melanin_noise", "change (OD)"),
}
"""metric -> (column of change from baseline, column of its 1-sd noise, axis title)."""


def _x(title: str = "Days since treatment", domain: tuple[float, float] | None = None) -> alt.X:
    scale = alt.Scale(domain=list(domain), nice=False, zero=False) if domain else alt.Undefined
    return alt.X("day:Q", title=title, axis=alt.Axis(tickMinStep=1, grid=False), scale=scale)


def recovery_chart(view: CourseView, height: int = 340) -> alt.LayerChart:
    """Redness above baseline against days since treatment: the expected curve with its normal
    band (healing speed) and noise band (measurement), each photo with +-2 sd, flags marked."""
    curve, pts, flags = view.curve, view.points, view.flags
    y_title = "Redness above baseline (EI)"  # short: it must fit a phone; EI = erythema index
    days = (float(curve["day"].min()) - 0.3, float(curve["day"].max()) + 0.3)  # room for the end dots
    normal = alt.Chart(curve).mark_area(opacity=0.28, color=_EXPECTED).encode(
        _x(domain=days), alt.Y("band_low:Q", title=y_title), alt.Y2("band_high:Q"),
        tooltip=[alt.Tooltip("day:Q", format=".1f"), alt.Tooltip("band_low:Q", title="normal from", format=".2f"),
                 alt.Tooltip("band_high:Q", title="normal to", format=".2f")],
    )
    noise = alt.Chart(curve).mark_area(opacity=0.12, color="#7a8c87").encode(
        _x(), alt.Y("noise_low:Q"), alt.Y2("noise_high:Q"))
    expected = alt.Chart(curve).mark_line(color=_EXPECTED, strokeWidth=2.5).encode(_x(), alt.Y("expected:Q"))
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#9aa5a2", strokeDash=[2, 3]).encode(y="y:Q")
    layers = [noise, normal, zero, expected]
    if not pts.empty:
        kind = ["good photo" if c else "light not corrected" if q else "poor photo"
                for q, c in zip(pts["quality_ok"], pts["colour_ok"], strict=True)]
        data = pts.assign(lo=pts["excess"] - 2 * pts["noise"], hi=pts["excess"] + 2 * pts["noise"],
                          photo_quality=kind)
        bars = alt.Chart(data).mark_rule(color=_POINT, opacity=0.45).encode(_x(), alt.Y("lo:Q"), alt.Y2("hi:Q"))
        dots = alt.Chart(data).mark_point(filled=True, size=70, color=_POINT).encode(
            _x(), alt.Y("excess:Q"),
            shape=alt.Shape("photo_quality:N", title=None,
                            scale=alt.Scale(domain=["good photo", "light not corrected", "poor photo"],
                                            range=["circle", "diamond", "triangle-down"])),
            opacity=alt.condition(alt.datum.colour_ok, alt.value(1.0), alt.value(0.45)),
            tooltip=[alt.Tooltip("day:Q", format=".1f"), "file:N", alt.Tooltip("excess:Q", format="+.2f"),
                     alt.Tooltip("expected:Q", format=".2f"), alt.Tooltip("noise:Q", title="noise (1 sd)", format=".2f"),
                     "quality:N"],
        )
        layers += [bars, dots]
    if not flags.empty:
        present = [k for k in SEVERITY_COLOURS if k in set(flags["severity"])]  # legend: only what is shown
        marks = alt.Chart(flags).mark_rule(strokeWidth=2, strokeDash=[5, 3]).encode(
            _x(), color=alt.Color("severity:N", title="flag",
                                  scale=alt.Scale(domain=present, range=[SEVERITY_COLOURS[k] for k in present])),
            tooltip=["code:N", "severity:N", alt.Tooltip("day:Q", format=".1f"), "message:N"],
        )
        layers.append(marks)
    # Legend below the plot: on a phone a side legend takes a third of the width.
    return (alt.layer(*layers).properties(height=height, width="container").configure_view(strokeWidth=0)
            .configure_legend(orient="bottom", direction="horizontal", titleOrient="left"))


def metric_chart(view: CourseView, metric: str, height: int = 200) -> alt.LayerChart:
    """Change from baseline of ``metric`` (``flaking``, ``texture``, ``melanin``) by day, each
    photo with +-2 sd, and the baseline's +-2 sd noise band around zero."""
    col, noise_col, title = METRIC_CHARTS[metric]
    pts = view.points
    base_sd = {"flaking": "flaking_sd", "texture": "texture_sd", "melanin": "melanin_sd"}[metric]
    b = view.series.baseline
    sd = float(getattr(b, base_sd)) if b is not None else 0.0
    lo_day = float(min(view.curve["day"].min(), pts["day"].min() if not pts.empty else 0.0))
    hi_day = float(max(view.curve["day"].max(), pts["day"].max() if not pts.empty else 14.0))
    band = pd.DataFrame({"day": [lo_day, hi_day], "lo": [-2 * sd] * 2, "hi": [2 * sd] * 2})
    layers = [alt.Chart(band).mark_area(opacity=0.12, color="#7a8c87").encode(_x(domain=(lo_day, hi_day)),
                                                                            alt.Y("lo:Q", title=title),
                                                                            alt.Y2("hi:Q"))]
    if not pts.empty:
        data = pts.assign(lo=pts[col] - 2 * pts[noise_col], hi=pts[col] + 2 * pts[noise_col], value=pts[col])
        layers += [
            alt.Chart(data).mark_line(color="#8a6d3b", opacity=0.6).encode(_x(), alt.Y("value:Q")),
            alt.Chart(data).mark_rule(color="#8a6d3b", opacity=0.45).encode(_x(), alt.Y("lo:Q"), alt.Y2("hi:Q")),
            alt.Chart(data).mark_point(filled=True, size=50, color="#8a6d3b").encode(
                _x(), alt.Y("value:Q"),
                tooltip=[alt.Tooltip("day:Q", format=".1f"), "file:N", alt.Tooltip("value:Q", format="+.3f")]),
        ]
    return alt.layer(*layers).properties(height=height, width="container").configure_view(strokeWidth=0)
