"""Contender "floor": the least a client can do to read every asset.

A bare httpx client, one keep-alive connection, that follows the pages the engine reads
(`sortBy=updatedAt`, `sortDirection=asc`, `pageSize=100`, then `paginationToken` =
`nextPaginationToken` until there is none), parses each body with orjson (the parser
assets-sync uses; `--parser json` for the standard library) and discards it.

    SCENARIO_API_URL=... SCENARIO_API_KEY=... SCENARIO_API_SECRET=... \
        python benchmarks/contenders/floor.py

Prints one JSON line: assets, pages, requests, work_s (the paging alone, no start-up).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--parser", choices=("orjson", "json"), default="orjson")
    args = parser.parse_args()
    loads: Callable[[bytes], Any] = orjson.loads if args.parser == "orjson" else json.loads
    base = os.environ["SCENARIO_API_URL"].rstrip("/")
    auth = (os.environ["SCENARIO_API_KEY"], os.environ["SCENARIO_API_SECRET"])
    assets = pages = 0
    token: str | None = None
    t0 = time.perf_counter()
    with httpx.Client(base_url=base, auth=auth, timeout=60) as client:
        while True:
            params = {"pageSize": str(args.page_size), "sortBy": "updatedAt",
                      "sortDirection": "asc"}  # fmt: skip
            if token:
                params["paginationToken"] = token
            r = client.get("/assets", params=params)
            r.raise_for_status()
            body = loads(r.content)
            pages += 1
            assets += len(body["assets"])
            token = body.get("nextPaginationToken")
            del body
            if not token:
                break
    work = time.perf_counter() - t0
    print(json.dumps({"assets": assets, "pages": pages, "requests": pages,
                      "work_s": round(work, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
