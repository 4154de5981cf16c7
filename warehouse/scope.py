"""Which stored assets belong to a stream: the SQL twin of the API's filters.

Reconciliation marks as deleted the assets of a stream that a complete listing did not return,
so it must know exactly which stored assets the listing COULD have returned. A stream whose
filters cannot be expressed exactly over the stored columns is refused (`WarehouseError`)
rather than approximated: an approximation that is too wide would mark live assets deleted.
The predicate is built from constants only; filter values are bound parameters.
"""

from __future__ import annotations

from collections import defaultdict

from assets_sync.sink import StreamKey
from warehouse.errors import WarehouseError

#: API filter -> stored column compared for equality.
_EQUALITY: dict[str, str] = {
    "privacy": "privacy",
    "authorId": "author_id",
    "modelId": "model_id",
    "inferenceId": "inference_id",
    "parentAssetId": "parent_id",
    "rootAssetId": "root_id",
}


def stream_predicate(stream: StreamKey, alias: str = "") -> tuple[str, list[object]]:
    """(SQL boolean expression, parameters) selecting the stream's stored assets."""
    clauses: list[str] = []
    params: list[object] = []
    if stream.project_id is not None:
        clauses.append(f"{alias}project_id = ?")
        params.append(stream.project_id)
    grouped: dict[str, list[str]] = defaultdict(list)
    for key, value in stream.filters:
        grouped[key].append(value)
    for key, values in grouped.items():
        if key in _EQUALITY:
            clauses.append(f"list_contains(?, {alias}{_EQUALITY[key]})")
            params.append(values)
        elif key in ("type", "types"):
            types = [t for v in values for t in v.split(",") if t]
            # `type=inference-` selects every type starting with it (scenario-assets-api.md).
            clauses.append(
                f"list_bool_or([{alias}type = t OR (suffix(t, '-') AND starts_with({alias}type, t))"
                " FOR t IN ?])"
            )
            params.append(types)
        elif key == "collectionId":
            clauses.append(f"list_has_any({alias}collection_ids, ?)")
            params.append(values)
        else:
            raise WarehouseError(
                f"stream {stream.stream_id}: filter {key!r} has no exact equivalent over the "
                "stored columns, so the warehouse cannot tell which assets a listing of it "
                "covers; reconcile the unfiltered project instead"
            )
    return (" AND ".join(clauses) or "TRUE"), params
