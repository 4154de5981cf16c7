-- Every version of an asset is stored ONCE, in `asset_rows`; `assets` and `asset_versions` become
-- views over it with the same names and columns (warehouse/CONTRACT.md).
--
-- Before, a first sync wrote every asset twice: its current row in `assets` and its first
-- version in `asset_versions`, the same columns, `raw` included. That second copy was ~25 % of
-- a 1M-asset first sync's CPU and 46 % of the file (968 -> 520 MB; benchmarks/RESULTS.md,
-- twenty-fourth session). Now a version that becomes current is one row with
-- `is_current = true`; a newer version flips that flag off (an update of one BOOLEAN, ~10 ms
-- for 10,000 rows spread over 1M, measured) instead of copying the old row anywhere.
--
-- `asset_versions` is every row; `assets` the rows with `is_current` (exactly one per id, kept
-- by the single writer, warehouse/upsert.py). `deleted_at`, `first_synced_at` and
-- `last_synced_at` are meaningful on the current row only (NULL on superseded versions
-- written as such); `run_id` and `synced_at` are the version's first observation.
--
-- Existing warehouses: superseded versions keep their stored row; each current version
-- becomes one row with the current row's values (so a version seen again with a new signed
-- url shows the latest one, as `assets` did) and its version's first-observation stamps.
-- Views refer to tables by name and are bound when queried, so the views of 0002 and 0003
-- survive the swap.

CREATE TABLE asset_rows (
    id              VARCHAR NOT NULL,
    project_id      VARCHAR,
    owner_id        VARCHAR,
    author_id       VARCHAR,
    kind            VARCHAR,
    type            VARCHAR,
    source          VARCHAR,
    mime_type       VARCHAR,
    status          VARCHAR,
    privacy         VARCHAR,
    name            VARCHAR,
    url             VARCHAR,
    width           INTEGER,
    height          INTEGER,
    size_bytes      BIGINT,
    tags            VARCHAR[],
    collection_ids  VARCHAR[],
    parent_id       VARCHAR,
    root_id         VARCHAR,
    inference_id    VARCHAR,
    model_id        VARCHAR,
    created_at      TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL,
    raw             JSON NOT NULL USING COMPRESSION zstd,
    deleted_at      TIMESTAMPTZ,
    first_synced_at TIMESTAMPTZ,
    last_synced_at  TIMESTAMPTZ,
    run_id          VARCHAR,
    synced_at       TIMESTAMPTZ NOT NULL,
    is_current      BOOLEAN NOT NULL
);

INSERT INTO asset_rows
SELECT v.id, v.project_id, v.owner_id, v.author_id, v.kind, v.type, v.source, v.mime_type,
       v.status, v.privacy, v.name, v.url, v.width, v.height, v.size_bytes, v.tags,
       v.collection_ids, v.parent_id, v.root_id, v.inference_id, v.model_id, v.created_at,
       v.updated_at, v.raw, NULL, NULL, NULL, v.run_id, v.synced_at, false
FROM asset_versions AS v
WHERE NOT EXISTS (SELECT 1 FROM assets AS a WHERE a.id = v.id AND a.updated_at = v.updated_at);

INSERT INTO asset_rows
SELECT a.id, a.project_id, a.owner_id, a.author_id, a.kind, a.type, a.source, a.mime_type,
       a.status, a.privacy, a.name, a.url, a.width, a.height, a.size_bytes, a.tags,
       a.collection_ids, a.parent_id, a.root_id, a.inference_id, a.model_id, a.created_at,
       a.updated_at, a.raw, a.deleted_at, a.first_synced_at, a.last_synced_at,
       v.run_id, coalesce(v.synced_at, a.first_synced_at), true
FROM assets AS a
LEFT JOIN asset_versions AS v ON v.id = a.id AND v.updated_at = a.updated_at;

DROP TABLE assets;
DROP TABLE asset_versions;

CREATE VIEW assets AS
SELECT id, project_id, owner_id, author_id, kind, type, source, mime_type, status, privacy,
       name, url, width, height, size_bytes, tags, collection_ids, parent_id, root_id,
       inference_id, model_id, created_at, updated_at, raw,
       deleted_at, first_synced_at, last_synced_at
FROM asset_rows
WHERE is_current;

CREATE VIEW asset_versions AS
SELECT id, project_id, owner_id, author_id, kind, type, source, mime_type, status, privacy,
       name, url, width, height, size_bytes, tags, collection_ids, parent_id, root_id,
       inference_id, model_id, created_at, updated_at, raw,
       run_id, synced_at
FROM asset_rows;
