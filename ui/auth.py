"""Sign-in and roles (DESIGN.md §7).

With an ``[auth]`` section in Streamlit secrets, the app requires ``st.login`` (OIDC) and
admits only the e-mail addresses or domains in ``[access] allowed``. Without one it runs
open, for a trusted network or a laptop, and says so. Roles come from ``[access]``::

    [access]
    allowed = ["@clinic.example", "visiting.lead@partner.example"]   # may view
    uploaders = ["lead@clinic.example"]      # may also upload, rename and delete datasets
    admins = ["admin@clinic.example"]        # may also read the audit log

An entry starting with ``@`` is a whole domain. In open mode everyone has every role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import streamlit as st

from ui.datasets import store
from ui.state import SIGNED_IN_RECORDED

VIEWER, UPLOADER, ADMIN = "viewer", "uploader", "admin"


@dataclass(frozen=True)
class User:
    email: str | None
    name: str | None
    roles: frozenset[str]
    open_mode: bool

    @property
    def can_upload(self) -> bool:
        return UPLOADER in self.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @property
    def label(self) -> str:
        return self.email or "anonymous (open mode)"


def _secrets_section(name: str) -> Mapping:
    try:
        section = st.secrets.get(name)
    except Exception:  # no secrets file at all
        return {}
    return section if isinstance(section, Mapping) else {}


def auth_configured() -> bool:
    return bool(_secrets_section("auth"))


def matches(email: str, entries: Sequence[str]) -> bool:
    """Whether an address is in a list of addresses and ``@domain`` entries
    (case-insensitive; a domain entry matches that domain exactly, not its subdomains)."""
    email = email.strip().lower()
    if "@" not in email:
        return False
    domain = "@" + email.rsplit("@", 1)[1]
    for entry in entries:
        e = str(entry).strip().lower()
        if e and (e == email or (e.startswith("@") and e == domain)):
            return True
    return False


def roles_for(email: str, access: Mapping) -> frozenset[str]:
    """The roles an address has under an ``[access]`` section (empty: not allowed)."""
    admins = list(access.get("admins", []))
    uploaders = list(access.get("uploaders", [])) + admins
    allowed = list(access.get("allowed", [])) + uploaders
    roles = set()
    if matches(email, allowed):
        roles.add(VIEWER)
    if matches(email, uploaders):
        roles.add(UPLOADER)
    if matches(email, admins):
        roles.add(ADMIN)
    return frozenset(roles)


def _sign_in_screen() -> None:
    st.title("Infusion Outcomes")
    st.markdown(
        "This dashboard holds clinic outcome data. **Sign in** with your organisation "
        "account to continue. If you came from a shared link, open it again once you are "
        "signed in."
    )
    st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login)


def _refusal(email: str) -> None:
    st.title("Access not granted")
    st.markdown(
        "You are signed in, but this address is not on the list of people who may see this "
        "dashboard. Ask your clinical lead or the administrator to add you."
    )
    st.caption(f"Signed in as {email}")
    st.button("Sign out", on_click=st.logout, icon=":material/logout:")


def current_user() -> User:
    """Who is using the app; stops the script with a sign-in screen or a refusal when
    sign-in is configured and the visitor is not signed in or not allowed."""
    if not auth_configured():
        return User(None, None, frozenset({VIEWER, UPLOADER, ADMIN}), open_mode=True)
    if not st.user.get("is_logged_in"):
        _sign_in_screen()
        st.stop()
    email = str(st.user.get("email") or "")
    roles = roles_for(email, _secrets_section("access"))
    if VIEWER not in roles:
        store().record_event("access_denied", user=email or None)
        _refusal(email or "an account without an e-mail address")
        st.stop()
    if not st.session_state.get(SIGNED_IN_RECORDED):
        store().record_event("sign_in", user=email)
        st.session_state[SIGNED_IN_RECORDED] = True
    name = st.user.get("name")
    return User(email, str(name) if name else None, roles, open_mode=False)


def sidebar_badge(user: User) -> None:
    """Who is signed in (with a sign-out button), or the open-mode notice."""
    if user.open_mode:
        st.caption(
            ":material/lock_open: **Open mode**: anyone who can reach this address can see "
            "the data. Configure sign-in for shared deployments (see the README)."
        )
        return
    c1, c2 = st.columns([3, 2], vertical_alignment="center")
    c1.caption(f":material/person: {user.name or user.email}")
    c2.button("Sign out", on_click=st.logout, key="sign_out", width="stretch")
