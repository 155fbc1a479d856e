"""Prediction page in a real browser: fit a model on the demo data, see the ROC and the
calibration charts, and move the threshold without refitting (st.fragment)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .harness import (
    PLOTLY_CHART,
    PLOTLY_DRAWN,
    assert_no_exception,
    assert_page_found,
    screenshot,
    wait_for_app,
)

pytestmark = pytest.mark.e2e
FIT_TIMEOUT_MS = 180_000


def chart(page: Page, title: str):
    return page.locator(PLOTLY_CHART).filter(has_text=title)


def test_prediction_fits_a_model_and_shows_roc_and_calibration(
    page: Page, streamlit_server: str
) -> None:
    page.goto(f"{streamlit_server}/prediction")
    wait_for_app(page)
    assert_page_found(page)
    expect(page.get_by_text("not a clinical decision tool").first).to_be_visible()

    page.get_by_role("button", name=re.compile("Fit model")).click()
    status = page.get_by_text(re.compile(r"Fitted and validated: .* s$"))
    expect(status).to_be_visible(timeout=FIT_TIMEOUT_MS)
    wait_for_app(page, timeout_ms=FIT_TIMEOUT_MS)
    assert_no_exception(page)
    for title in ("ROC curve", "Calibration: predicted vs observed response"):
        expect(chart(page, title)).to_have_count(1)
        expect(chart(page, title).locator(PLOTLY_DRAWN).first).to_be_visible()
    expect(page.get_by_text("AUROC", exact=True).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^95% CI 0\.\d\d–0\.\d\d$")).first).to_be_visible()
    screenshot(page, "prediction")

    # The threshold lives in a fragment: moving it reruns only the fragment, so the fit's
    # status line (with its timing) is not redrawn.
    before = status.inner_text()
    sensitivity = page.get_by_test_id("stDataFrame").nth(2)
    slider = page.get_by_role("slider", name=re.compile("Predicted responder"))
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(slider).to_have_value("55")
    wait_for_app(page)
    assert_no_exception(page)
    expect(sensitivity).to_be_visible()
    assert status.inner_text() == before
