-- `raw` (about 1.3 KB of JSON per asset, most of the bytes of both tables) compressed with ZSTD.
-- DuckDB's automatic choice for it, DICT_FSST, made inserting + checkpointing the column of
-- 100k emulator assets cost 2.8 s of CPU for a 75 MB column; with ZSTD, 1.2 s and 21 MB
-- (DuckDB 2.0.1; both include the JSON validation of the cast). The sync writes `raw` twice
-- (assets, asset_versions), so this was the writer's largest single cost. A column's
-- compression cannot be altered in place, so both tables are rebuilt (instant on a new
-- warehouse; one copy of the data on an old one). Views refer to the tables by name and are
-- bound when queried, so they survive the swap.

CREATE TABLE _assets_zstd (
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
    first_synced_at TIMESTAMPTZ NOT NULL,
    last_synced_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO _assets_zstd SELECT * FROM assets;
DROP TABLE assets;
ALTER TABLE _assets_zstd RENAME TO assets;

CREATE TABLE _asset_versions_zstd (
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
    run_id          VARCHAR,
    synced_at       TIMESTAMPTZ NOT NULL
);
INSERT INTO _asset_versions_zstd SELECT * FROM asset_versions;
DROP TABLE asset_versions;
ALTER TABLE _asset_versions_zstd RENAME TO asset_versions;
