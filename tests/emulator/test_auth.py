"""Authentication: Basic key/secret, Bearer, public-auth-token (public only); else 401."""

from __future__ import annotations

import httpx
import pytest

from assets_sync.emulator import Emulator

from .conftest import BEARER, KEY, SECRET, client, fetch_all


def test_basic_and_bearer_see_everything(emu: Emulator) -> None:
    with (
        client(emu) as basic,
        client(emu, auth=None, headers={"Authorization": f"Bearer {BEARER}"}) as bearer,
    ):
        a = basic.get("/assets", params={"pageSize": 20}).json()
        b = bearer.get("/assets", params={"pageSize": 20}).json()
    assert a == b and len(a["assets"]) == 20


def test_public_auth_token_sees_public_assets_only(emu: Emulator) -> None:
    with client(emu, auth=None, headers={"Authorization": "public-auth-token"}) as pub:
        got = fetch_all(pub, {"pageSize": 100})
        assert got and all(a["privacy"] == "public" for a in got)
        assert {a["id"] for a in got} == {a["id"] for a in emu.truth() if a["privacy"] == "public"}
        assert pub.get("/assets", params={"privacy": "private"}).json()["assets"] == []
        assert pub.get("/_emulator/stats").status_code == 403  # no admin for the public


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + httpx.BasicAuth(KEY, "nope")._auth_header.split()[1]},
        {"Authorization": "Basic " + httpx.BasicAuth("nope", SECRET)._auth_header.split()[1]},
        {"Authorization": "Token " + BEARER},
        {"Authorization": "public-auth-token-ish"},
    ],
)
def test_anything_else_is_401(emu: Emulator, headers: dict[str, str]) -> None:
    with client(emu, auth=None, headers=headers) as c:
        r = c.get("/assets")
        assert r.status_code == 401 and r.json()["reason"]
        assert c.get("/_emulator/stats").status_code == 401


def test_bearer_disabled_when_not_configured(make_emu) -> None:
    e = make_emu(bearer_token=None)
    with client(e, auth=None, headers={"Authorization": "Bearer None"}) as c:
        assert c.get("/assets").status_code == 401
