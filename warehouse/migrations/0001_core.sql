-- The warehouse contract (DESIGN.md, "Warehouse contract"), first version.
-- Asset columns mirror assets_sync.schema.ASSET_SCHEMA in order; warehouse.columns checks
-- on every open that they still do. All timestamps are TIMESTAMPTZ with millisecond values.

-- Current state: one row per asset id ever seen. Never physically deleted.
-- id is the primary key, kept unique by the single writer (warehouse.upsert) rather than by a
-- DuckDB index, which made every upsert commit 1-2 s slower at 1M rows.
CREATE TABLE assets (
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
    raw             JSON NOT NULL,
    deleted_at      TIMESTAMPTZ,             -- NULL while the asset exists
    first_synced_at TIMESTAMPTZ NOT NULL,
    last_synced_at  TIMESTAMPTZ NOT NULL
);

-- History: one row per distinct (id, updated_at) observed, the first observation of it.
-- Invariant kept by warehouse.upsert: assets.updated_at = max(asset_versions.updated_at) per id.
CREATE TABLE asset_versions (
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
    raw             JSON NOT NULL,
    run_id          VARCHAR,
    synced_at       TIMESTAMPTZ NOT NULL
);

-- Lineage edges of the current row of every asset.
CREATE TABLE asset_lineage (
    asset_id   VARCHAR NOT NULL,
    related_id VARCHAR NOT NULL,
    relation   VARCHAR NOT NULL CHECK (relation IN ('parent', 'root', 'inference', 'model'))
);

-- Records that could not be loaded, kept whole. raw is VARCHAR: it may not even be JSON.
CREATE TABLE rejected_assets (
    asset_id    VARCHAR,
    reason      VARCHAR NOT NULL,
    raw         VARCHAR NOT NULL,
    run_id      VARCHAR,
    stream_id   VARCHAR,
    rejected_at TIMESTAMPTZ NOT NULL
);

-- One row per stream (scope = project + filters): its high watermark.
CREATE TABLE sync_state (
    stream_id  VARCHAR PRIMARY KEY,
    project_id VARCHAR,
    filters    JSON NOT NULL,                -- [[name, value], ...], sorted
    watermark  TIMESTAMPTZ,                  -- every updatedAt <= watermark is committed
    updated_at TIMESTAMPTZ NOT NULL
);

-- The ledger of windows in progress: (lo, hi) exclusive, committed up to cursor_at.
CREATE TABLE sync_slices (
    stream_id  VARCHAR NOT NULL,
    slice_id   VARCHAR NOT NULL,
    lo_at      TIMESTAMPTZ NOT NULL,
    hi_at      TIMESTAMPTZ NOT NULL,
    cursor_at  TIMESTAMPTZ NOT NULL,
    done       BOOLEAN NOT NULL,
    run_id     VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (stream_id, slice_id)
);

-- One row per run, with its outcome and counts.
CREATE TABLE sync_runs (
    run_id           VARCHAR PRIMARY KEY,
    stream_id        VARCHAR NOT NULL,
    mode             VARCHAR NOT NULL,       -- sync | backfill | reconcile
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ,
    outcome          VARCHAR NOT NULL,       -- running | success | failed
    error            VARCHAR,
    watermark_before TIMESTAMPTZ,
    watermark_after  TIMESTAMPTZ,
    fetched          BIGINT NOT NULL DEFAULT 0,
    new              BIGINT NOT NULL DEFAULT 0,
    updated          BIGINT NOT NULL DEFAULT 0,
    unchanged        BIGINT NOT NULL DEFAULT 0,
    rejected         BIGINT NOT NULL DEFAULT 0,
    pages            BIGINT NOT NULL DEFAULT 0,
    requests         BIGINT NOT NULL DEFAULT 0,
    retries          BIGINT NOT NULL DEFAULT 0,
    throttled        BIGINT NOT NULL DEFAULT 0,
    deleted          BIGINT NOT NULL DEFAULT 0,
    revived          BIGINT NOT NULL DEFAULT 0,
    extra_counts     JSON                    -- counts with no column of their own
);
