"""Validation of `GET /v1/assets` query strings into a `ListQuery`.

Every rule of the API document is enforced here, and every violation is a `BadRequest`
(400 `{"reason", "traceId"}`), never an exception that would become a 500:

- `pageSize` 1..100 (default 50); `sortBy` createdAt|updatedAt (default createdAt);
  `sortDirection` asc|desc (default desc);
- `updatedAfter`/`updatedBefore` require `sortBy=updatedAt`, `createdAfter`/`createdBefore`
  require `sortBy=createdAt`; all four are EXCLUSIVE; ISO dates only;
- `type` and `types` are exclusive; `types` in any of the three encodings (`types=a&types=b`,
  `types=a,b`, `types[]=a`); a value ending in `-` is a prefix (`inference-`); unknown types
  are not errors (they match nothing);
- `privacy=public` lists public assets of every organization (other teams' too);
- `tags` restricts to public assets (of every organization, like a public search), all tags
  required; `originalAssets=true` serves untransformed file URLs (our reading of "the original
  asset without transformation": it is not a filter).
Unknown parameters are ignored, as web APIs usually do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .filters import NO_MATCH, Filter
from .generator import AUTHORS_PER_PROJECT, COLLECTIONS_PER_PROJECT, MODELS_PER_PROJECT, PRIVACIES
from .store import SortField, Store
from .tokens import SORT_FIELDS, KeysetToken, Token, TokenError, decode, parse_iso_us
from .vocab import TAGS, TYPE_CODE, TYPES

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
_SCALARS = (
    "pageSize", "paginationToken", "sortBy", "sortDirection", "updatedAfter", "updatedBefore",
    "createdAfter", "createdBefore", "type", "privacy", "inferenceId", "modelId", "parentAssetId",
    "rootAssetId", "authorId", "originalAssets", "tags", "projectId", "collectionId",
)  # fmt: skip


class BadRequest(ValueError):
    """The request is invalid: answered with 400 and this message as `reason`."""


@dataclass(frozen=True)
class ListQuery:
    sort_field: SortField
    descending: bool
    page_size: int
    page_size_given: bool
    after_ms: int | None  # exclusive lower bound on the sort field
    before_ms: int | None  # exclusive upper bound on the sort field
    filter: Filter
    original: bool
    token: Token | None


def type_codes(values: list[str]) -> frozenset[int]:
    """Codes of the named types; `x-` selects every type starting with `x-`."""
    codes: set[int] = set()
    for v in values:
        if v in TYPE_CODE:
            codes.add(TYPE_CODE[v])
        elif v.endswith("-"):
            codes.update(i for i, t in enumerate(TYPES) if t.startswith(v))
    return frozenset(codes)


def _decoded(value: int | None, limit: int) -> int:
    return value if value is not None and 0 <= value < limit else NO_MATCH


def parse(pairs: list[tuple[str, str]], store: Store, public_only: bool) -> ListQuery:
    """Validate the query string pairs (in order, repeated keys kept)."""
    single: dict[str, str] = {}
    types: list[str] = []
    for key, value in pairs:
        if key in ("types", "types[]"):
            types.extend(v.strip() for v in value.split(",") if v.strip())
        elif key in _SCALARS:
            if key in single:
                raise BadRequest(f"{key} must be given at most once")
            single[key] = value
    get = single.get

    size_text = get("pageSize")
    page_size = DEFAULT_PAGE_SIZE
    if size_text is not None:
        if not size_text.isdigit() or not 1 <= int(size_text) <= MAX_PAGE_SIZE:
            raise BadRequest(f"pageSize must be an integer between 1 and {MAX_PAGE_SIZE}")
        page_size = int(size_text)
    sort_by = get("sortBy")
    if sort_by is not None and sort_by not in SORT_FIELDS:
        raise BadRequest("sortBy must be one of createdAt, updatedAt")
    direction = get("sortDirection", "desc")
    if direction not in ("asc", "desc"):
        raise BadRequest("sortDirection must be asc or desc")

    after_ms = before_ms = None
    for bound_field, lo_name, hi_name in (
        ("updatedAt", "updatedAfter", "updatedBefore"),
        ("createdAt", "createdAfter", "createdBefore"),
    ):
        lo, hi = get(lo_name), get(hi_name)
        if lo is None and hi is None:
            continue
        if sort_by != bound_field:
            raise BadRequest(f"{lo_name} and {hi_name} require sortBy={bound_field}")
        try:
            if lo is not None:  # asset_ms > lo  <=>  asset_ms > floor(lo)
                after_ms = parse_iso_us(lo) // 1000
            if hi is not None:  # asset_ms < hi  <=>  asset_ms < ceil(hi)
                before_ms = -(-parse_iso_us(hi) // 1000)
        except TokenError as exc:
            raise BadRequest(f"{exc} (expected an ISO 8601 date)") from exc

    if types and "type" in single:
        raise BadRequest("type and types cannot be used together")
    codes = type_codes(types or [single["type"]]) if types or "type" in single else None

    privacy = None
    if "privacy" in single:
        if single["privacy"] not in PRIVACIES:
            raise BadRequest("privacy must be one of private, public, unlisted")
        privacy = PRIVACIES.index(single["privacy"])
    original = get("originalAssets", "false")
    if original not in ("true", "false"):
        raise BadRequest("originalAssets must be true or false")

    tags_mask = None
    if get("tags"):
        tags_mask = 0
        for name in (t.strip() for t in single["tags"].split(",")):
            if name in TAGS:
                tags_mask |= 1 << TAGS.index(name)
            elif name:
                codes = frozenset()  # an unknown tag matches nothing
    c, cols, projects = store.codecs, store.cols, store.cfg.projects

    def ident(name: str, fn: Callable[[str], int | None], limit: int) -> int | None:
        text = get(name)
        return None if text is None else _decoded(fn(text), limit)

    flt = Filter(
        type_codes=codes,
        privacy=privacy,
        public_only=public_only or tags_mask is not None,
        include_foreign=privacy == 1 or tags_mask is not None,  # public: every organization
        project=ident("projectId", c.project.decode, projects),
        collection=ident("collectionId", c.collection.decode, projects * COLLECTIONS_PER_PROJECT),
        inference=ident("inferenceId", c.inference.decode, cols.n_inferences),
        model=ident("modelId", c.model.decode, projects * MODELS_PER_PROJECT),
        parent=ident("parentAssetId", store.row_of, cols.n),
        root=ident("rootAssetId", store.row_of, cols.n),
        author=ident("authorId", c.author.decode, projects * AUTHORS_PER_PROJECT),
        tags_mask=tags_mask,
    )
    token = None
    if get("paginationToken"):
        try:
            token = decode(single["paginationToken"])
        except TokenError as exc:
            raise BadRequest(str(exc)) from exc
    field: SortField = "updatedAt" if sort_by == "updatedAt" else "createdAt"
    if isinstance(token, KeysetToken) and token.field != field:
        raise BadRequest("paginationToken does not belong to this sortBy")
    return ListQuery(
        sort_field=field,
        descending=direction == "desc",
        page_size=page_size,
        page_size_given=size_text is not None,
        after_ms=after_ms,
        before_ms=before_ms,
        filter=flt,
        original=original == "true",
        token=token,
    )
