"""Admin endpoints under `/_emulator/`, so another process can drive a running emulator.

Also reachable as `<base_url>/_emulator/...` (i.e. under `/v1`), for callers that only know
the base URL.
They need the same credentials as the API (key/secret or bearer; a public token gets 403) and
are never faulted. Bodies are JSON; answers are JSON.

    GET  /_emulator/info                      project ids, live count, token mode
    GET  /_emulator/stats                     request/fault counters;  POST .../stats/reset
    GET  /_emulator/truth?projectId=&offset=&limit=   live assets as served, (createdAt, id) order
    GET  /_emulator/ids?projectId=            ids of every live asset
    POST /_emulator/update  {"ids": [..] | null, "n": 10}      -> {"ids": [...]}
    POST /_emulator/add     {"n": 5, "parentId": null}         -> {"ids": [...]}
    POST /_emulator/delete  {"ids": [..] | null, "n": 5}       -> {"ids": [...]}
    GET|PUT|POST /_emulator/faults                 Faults fields (PUT/POST replace the policy)
    GET|PUT|POST /_emulator/mutate-while-paging    MutateWhilePaging fields, or null to stop
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from .config import Faults, MutateWhilePaging

if TYPE_CHECKING:
    from .service import App, Response


class _Invalid(ValueError):
    pass


def _body(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _Invalid(f"invalid JSON body: {exc}") from exc


def _ids_and_n(obj: Any, default_n: int) -> tuple[list[str] | None, int]:
    if not isinstance(obj, dict):
        raise _Invalid("body must be a JSON object")
    ids, n = obj.get("ids"), obj.get("n", default_n)
    if ids is not None and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        raise _Invalid("ids must be a list of strings")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise _Invalid("n must be a non-negative integer")
    return ids, n


def _dataclass_from(cls: type[Any], obj: Any) -> Any:
    if not isinstance(obj, dict):
        raise _Invalid("body must be a JSON object")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(obj) - names
    if unknown:
        raise _Invalid(f"unknown fields: {sorted(unknown)}")
    try:
        return cls(**obj)
    except (TypeError, ValueError) as exc:
        raise _Invalid(str(exc)) from exc


def handle_admin(app: App, method: str, path: str, query: str, raw: bytes) -> Response:
    from .service import error, json_response

    store = app.store
    name = path[len("/_emulator/") :].strip("/")
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        if name == "info" and method == "GET":
            return json_response({"projectIds": store.project_ids, "liveAssets": store.count(),
                                  "tokenMode": app.cfg.token_mode, "seed": app.cfg.seed,
                                  "endMs": app.cfg.end_ms})  # fmt: skip
        if name == "stats" and method == "GET":
            return json_response(app.stats())
        if name == "stats/reset" and method == "POST":
            app.reset_stats()
            return json_response(app.stats())
        if name == "truth" and method == "GET":
            rows = store.live_rows(params.get("projectId"))
            offset, limit = int(params.get("offset", 0)), int(params.get("limit", len(rows)))
            page = rows[offset : offset + limit]
            return json_response({"assets": store.render(page), "total": len(rows)})
        if name == "ids" and method == "GET":
            rows = store.live_rows(params.get("projectId"))
            return json_response({"ids": store.codecs.asset.encode_array(rows)})
        if name in ("update", "delete", "add") and method == "POST":
            obj = _body(raw)
            if name == "add":
                _, n = _ids_and_n({k: v for k, v in obj.items() if k != "parentId"}, 5)
                parent = obj.get("parentId")
                if parent is not None and not isinstance(parent, str):
                    raise _Invalid("parentId must be a string")
                return json_response({"ids": store.add(n, parent)})
            ids, n = _ids_and_n(obj, 10 if name == "update" else 5)
            fn = store.update if name == "update" else store.delete
            return json_response({"ids": fn(ids, n)})
        if name == "faults":
            if method in ("PUT", "POST"):
                app.faults.set(_dataclass_from(Faults, _body(raw)))
            return json_response(dataclasses.asdict(app.faults.faults))
        if name == "mutate-while-paging":
            if method in ("PUT", "POST"):
                obj = orjson.loads(raw) if raw.strip() else None
                mwp = None if obj is None else _dataclass_from(MutateWhilePaging, obj)
                app.set_mutate_while_paging(mwp)
            return json_response(None if app.mwp is None else dataclasses.asdict(app.mwp))
    except _Invalid as exc:
        return error(400, str(exc))
    except ValueError as exc:  # int() of a bad offset/limit, JSON of mutate-while-paging
        return error(400, str(exc))
    except KeyError as exc:
        return error(404, f"no live asset {exc.args[0]}")
    return error(404, f"no admin endpoint {method} {path}")
