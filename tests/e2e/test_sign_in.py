"""Sign-in in a real browser (issue 6) against a local OIDC provider started by the test
(`oidc-provider-mock`, on 127.0.0.1): a shared link opened while signed out asks for
sign-in and shows no data; an allowed user signs in through the provider's form and sees
data, their name and a sign-out button; a user outside the allow-list is refused and sees
no data.

Everything is loopback-only and on 127.0.0.1 (never `localhost`: the login cookie is set
for the `redirect_uri`'s host, so the browser must use the same one)."""

from __future__ import annotations

import json
import os
import re
import threading
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import werkzeug.serving
from playwright.sync_api import Page, expect

from analytics.store import open_store

from .harness import (
    EXCEPTION,
    PLOTLY_CHART,
    free_port,
    running_app,
    screenshot,
    wait_for_app,
    wait_for_charts,
)

pytestmark = [
    pytest.mark.e2e,
    # the mock provider runs in this process; its Authlib calls are Authlib's concern
    pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib"),
    pytest.mark.filterwarnings("ignore::authlib.deprecate.AuthlibDeprecationWarning"),
]

NURSE = "nurse@clinic.example"
NURSE_NAME = "Nurse Example"
OUTSIDER = "someone@elsewhere.example"
SHARED_LINK = "/responders?instrument=phq9"
DATA = ", ".join(  # anything that would show patient data
    [PLOTLY_CHART, *(f'[data-testid="{t}"]' for t in ("stMetric", "stDataFrame", "stTable"))]
)


@pytest.fixture(scope="module")
def oidc_provider() -> Iterator[str]:
    """Base URL of a mock OIDC provider on 127.0.0.1 (any client id and secret; the
    authorize form takes the user's `sub`, which it also uses as the e-mail claim).
    `run_server_in_thread` binds "localhost", so the server is made here to bind the
    loopback address itself; the discovery document's URLs follow the request's host."""
    with warnings.catch_warnings():  # Authlib's own deprecations, raised on import
        warnings.simplefilter("ignore", DeprecationWarning)
        import oidc_provider_mock
    nurse = oidc_provider_mock.User(sub=NURSE, claims={"email": NURSE, "name": NURSE_NAME})
    app = oidc_provider_mock.app(user_claims=[nurse])
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    try:
        with urllib.request.urlopen(f"{base_url}/.well-known/openid-configuration") as r:
            meta = json.load(r)
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            assert meta[key].startswith(base_url), (key, meta[key])
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)


@dataclass(frozen=True)
class SignedApp:
    base_url: str
    data_dir: Path


@pytest.fixture(scope="module")
def signed_app(oidc_provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SignedApp]:
    """The app with an `[auth]` section (the mock provider) and `[access] allowed =
    ["@clinic.example"]` in its own secrets file, on a port chosen first so that the
    secrets can name the `redirect_uri`."""
    tmp = tmp_path_factory.mktemp("sign_in")
    port = free_port()
    secrets = tmp / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        'cookie_secret = "e2e-cookie-secret-only-for-this-test"\n'
        'client_id = "infusion-outcomes-e2e"\n'
        'client_secret = "e2e-client-secret"\n'
        f'server_metadata_url = "{oidc_provider}/.well-known/openid-configuration"\n'
        "\n[access]\n"
        'allowed = ["@clinic.example"]\n'
    )
    data_dir = tmp / "data"
    data_dir.mkdir()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    log_name = f"streamlit-sign-in-{worker}" if worker else "streamlit-sign-in"
    with running_app(
        log_name=log_name,
        data_dir=data_dir,
        port=port,
        extra_args=["--secrets.files", str(secrets)],
    ) as base_url:
        yield SignedApp(base_url, data_dir)


def back_in_app(app: SignedApp) -> re.Pattern[str]:
    """A page of the app itself (not the provider, not the callback that redirects)."""
    return re.compile("^" + re.escape(app.base_url) + r"(/(?!oauth2callback).*)?$")


def sign_in(page: Page, app: SignedApp, email: str) -> None:
    """Press "Sign in", give the provider's authorize form an address, and wait until the
    provider has sent the browser back to the app and the app has run."""
    page.get_by_role("button", name="Sign in").click()
    sub = page.locator("input[name=sub]")
    expect(sub).to_be_visible()
    sub.fill(email)
    page.locator("form").filter(has=sub).get_by_role("button", name="Authorize").click()
    page.wait_for_url(back_in_app(app))
    wait_for_app(page)


def expect_no_data(page: Page) -> None:
    expect(page.locator(DATA)).to_have_count(0)
    expect(page.get_by_test_id("stSidebar")).to_have_count(0)  # no datasets, no navigation
    expect(page.locator(EXCEPTION)).to_have_count(0)


def test_shared_link_opened_signed_out_asks_for_sign_in_first(
    page: Page, signed_app: SignedApp
) -> None:
    page.goto(signed_app.base_url + SHARED_LINK)
    wait_for_app(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect(page.get_by_text("open it again once you are signed in")).to_be_visible()
    expect_no_data(page)
    expect(page.get_by_role("heading", name=re.compile("Responders"))).to_have_count(0)
    screenshot(page, "sign_in_shared_link_signed_out")


def test_allowed_user_signs_in_and_sees_data(
    new_page: Callable[[], Page], signed_app: SignedApp
) -> None:
    page = new_page()
    page.goto(signed_app.base_url + SHARED_LINK)
    wait_for_app(page)
    sign_in(page, signed_app, NURSE)
    expect(
        page.get_by_role("heading", name=re.compile(r"^(Overview|Responders) · "))
    ).to_be_visible()
    wait_for_charts(page, min_count=2)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(NURSE_NAME)).to_be_visible()
    expect(sidebar.get_by_role("button", name="Sign out")).to_be_visible()
    expect(sidebar.get_by_text("Open mode")).to_have_count(0)
    screenshot(page, "sign_in_allowed_after_sign_in")

    # signed in, the shared link opens its page with its parameters
    page.goto(signed_app.base_url + SHARED_LINK)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Responders · PHQ-9")).to_be_visible()
    wait_for_charts(page, min_count=3)
    screenshot(page, "sign_in_allowed_shared_link")

    events = open_store(signed_app.data_dir).events(kind="sign_in", user=NURSE)
    assert len(events) >= 1  # once per session: the link reopened above is a new one

    # sign out: the provider confirms the end of its session, then the sign-in screen again
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(back_in_app(signed_app))
    wait_for_app(page)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    expect_no_data(page)


@pytest.mark.xfail(
    strict=True,
    reason="app bug (reported): Streamlit's /oauth2callback always redirects to the app root, "
    "and ui/auth.py keeps nothing across the round trip, so after signing in from a shared "
    "link the user lands on the Overview with the default view, not the link's page",
)
def test_shared_link_is_restored_after_sign_in(
    new_page: Callable[[], Page], signed_app: SignedApp
) -> None:
    page = new_page()
    page.goto(signed_app.base_url + SHARED_LINK)
    wait_for_app(page)
    sign_in(page, signed_app, NURSE)
    expect(page.get_by_role("heading", name="Responders · PHQ-9")).to_be_visible(timeout=5_000)
    assert page.url == signed_app.base_url + SHARED_LINK


def test_user_outside_the_allow_list_is_refused(
    new_page: Callable[[], Page], signed_app: SignedApp
) -> None:
    page = new_page()
    page.goto(signed_app.base_url + SHARED_LINK)
    wait_for_app(page)
    sign_in(page, signed_app, OUTSIDER)
    expect(page.get_by_role("heading", name="Access not granted")).to_be_visible()
    expect(page.get_by_text(f"Signed in as {OUTSIDER}")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect_no_data(page)
    screenshot(page, "sign_in_refused")

    # the shared link itself, opened again while signed in as the outsider: still refused
    page.goto(signed_app.base_url + SHARED_LINK)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Access not granted")).to_be_visible()
    expect_no_data(page)

    events = open_store(signed_app.data_dir).events(kind="access_denied", user=OUTSIDER)
    assert len(events) >= 1
