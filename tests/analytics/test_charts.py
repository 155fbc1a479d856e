"""The house layout: the template set without plotly's validation gives the same figure."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio

from analytics import charts


def _validated(fig: go.Figure, title: str, subtitle: str) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, subtitle=dict(text=subtitle), x=0, xanchor="left"),
        template=charts.TEMPLATE,
        font=charts.FONT,
        margin=dict(l=70, r=30, t=105, b=70),
        legend=dict(orientation="h", yanchor="bottom", y=-0.32, x=0),
        hoverlabel=dict(font_size=13),
    )
    return fig


def test_apply_layout_equals_plotly_update_layout_with_the_template():
    ours = charts.apply_layout(go.Figure(go.Bar(x=[1, 2], y=[3, 4])), "Title", "Sub")
    ref = _validated(go.Figure(go.Bar(x=[1, 2], y=[3, 4])), "Title", "Sub")
    assert ours.to_dict() == ref.to_dict()
    assert json.loads(pio.to_json(ours)) == json.loads(pio.to_json(ref))
    assert isinstance(ours.layout.template, go.layout.Template)


def test_each_figure_has_its_own_template():
    a = charts.apply_layout(go.Figure(), "a", "")
    a.layout.template.layout.font.size = 99
    b = charts.apply_layout(go.Figure(), "b", "")
    assert b.layout.template.layout.font.size != 99
    a.update_layout(template="plotly_dark")
    assert a.layout.template.layout.paper_bgcolor == "rgb(17,17,17)"
