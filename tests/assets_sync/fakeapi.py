"""A tiny in-process model of `GET /v1/assets` for unit tests (the emulator is the real one).

Assets are dicts with `id`, `updatedAt`, `createdAt` (ISO) plus lineage metadata. Listing sorts
by the requested field then id, applies the EXCLUSIVE bounds, and pages with OFFSET tokens
(`base64({"offset":..,"limit":..})`), so a mutation between two page requests shifts offsets
exactly like the real thing. `on_request(api, n)` runs before answering request n: tests mutate
the data there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx

from assets_sync.windows import format_iso_ms, parse_iso_ms


def make_asset(i: int, updated_ms: int, created_ms: int | None = None) -> dict[str, Any]:
    created = updated_ms if created_ms is None else created_ms
    return {
        "id": f"asset_{i:08d}",
        "ownerId": "proj_test",
        "kind": "image",
        "createdAt": format_iso_ms(created),
        "updatedAt": format_iso_ms(updated_ms),
        "tags": [],
        "collectionIds": [],
        "properties": {"size": 100 + i, "width": 64, "height": 64},
        "metadata": {
            "type": "inference-txt2img",
            "kind": "image",
            "parentId": f"asset_{i // 2:08d}" if i else None,
            "rootParentId": "asset_00000000",
            "inferenceId": f"inf_{i}",
            "modelId": "model_x",
        },
    }


class FakeApi:
    def __init__(
        self,
        assets: list[dict[str, Any]],
        *,
        on_request: Callable[[FakeApi, int], None] | None = None,
        responses: list[httpx.Response | Exception] | None = None,
        token_mode: str = "offset",
    ) -> None:
        # token_mode: "offset" tokens; "keyset" tokens naming the page's last record (strictly
        # after its (sort key, id)); "keyset-skewed": keyset-shaped tokens naming the record
        # BEFORE the last, which a client must not trust (they would re-serve that record)
        self.token_mode = token_mode
        self.assets: dict[str, dict[str, Any]] = {a["id"]: a for a in assets}
        self.on_request = on_request
        self.requests: list[dict[str, str]] = []
        self.scripted = list(responses or [])  # answered first, in order
        self.clock_ms = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.scripted:
            answer = self.scripted.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        params = dict(request.url.params)
        self.requests.append(params)
        if self.on_request is not None:
            self.on_request(self, len(self.requests))
        field = params.get("sortBy", "createdAt")
        after_key, before_key = (
            ("updatedAfter", "updatedBefore")
            if field == "updatedAt"
            else ("createdAfter", "createdBefore")
        )
        rows = sorted(
            ((parse_iso_ms(a[field]), a["id"], a) for a in self.assets.values()),
            key=lambda t: (t[0], t[1]),
        )
        if params.get("sortDirection") == "desc":
            rows.reverse()
        if after_key in params:
            lo = parse_iso_ms(params[after_key])
            rows = [r for r in rows if r[0] > lo]
        if before_key in params:
            hi = parse_iso_ms(params[before_key])
            rows = [r for r in rows if r[0] < hi]
        size = int(params.get("pageSize", "50"))
        offset = 0
        if "paginationToken" in params:
            decoded = json.loads(base64.b64decode(params["paginationToken"]))
            if "offset" in decoded:
                offset = decoded["offset"]
            else:  # keyset: strictly after (sort key, id), whatever moved since
                key = decoded["lastKey"]
                at = (parse_iso_ms(key[field]), key["id"])
                desc = params.get("sortDirection") == "desc"
                offset = sum(
                    1 for r in rows if ((r[0], r[1]) >= at if desc else (r[0], r[1]) <= at)
                )
        page = rows[offset : offset + size]
        body: dict[str, Any] = {"assets": [r[2] for r in page]}
        if offset + size < len(rows):
            if self.token_mode == "offset":
                token = json.dumps({"offset": offset + size, "limit": size}).encode()
            else:
                named = (
                    page[-2] if self.token_mode == "keyset-skewed" and len(page) > 1 else page[-1]
                )
                token = json.dumps({"lastKey": {"id": named[1], field: named[2][field]}}).encode()
            body["nextPaginationToken"] = base64.b64encode(token).decode()
        return httpx.Response(200, json=body)

    # -- mutations -----------------------------------------------------------------------
    def touch(self, asset_id: str, updated_ms: int) -> None:
        a = dict(self.assets[asset_id])
        a["updatedAt"] = format_iso_ms(updated_ms)
        self.assets[asset_id] = a

    def delete(self, asset_id: str) -> None:
        self.assets.pop(asset_id, None)
