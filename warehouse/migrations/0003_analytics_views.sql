-- Analytics views for people: derivation categories, lineage depth and trees, activity per
-- day/type/model/author, what changed between versions, deletions and sync health.
-- Views only read the tables of 0001; day boundaries are UTC whatever the session's TimeZone.

-- Where an asset sits in the derivation funnel, from its current row (first rule that matches):
--   upload      type starts with 'uploaded' (uploaded, uploaded-video, ...) or source starts
--               with 'upload': a file a person brought in;
--   generation  made by a model: model_id or inference_id is set, or type starts with
--               'inference-' (txt2img, inference-img2img, img2video, ... even with a parent);
--   edit        derived from another asset (parent_id set) by a tool without a model:
--               upscale, background-removal, vectorization, pixelization, reframe, ...;
--   other       anything else (canvas, unknown, ... without a parent).
CREATE VIEW asset_categories AS
SELECT
    id,
    type,
    source,
    CASE
        WHEN starts_with(coalesce(type, ''), 'uploaded')
          OR starts_with(lower(coalesce(source, '')), 'upload') THEN 'upload'
        WHEN model_id IS NOT NULL OR inference_id IS NOT NULL
          OR starts_with(coalesce(type, ''), 'inference-') THEN 'generation'
        WHEN parent_id IS NOT NULL THEN 'edit'
        ELSE 'other'
    END AS category,
    deleted_at IS NULL AS is_live
FROM assets;

-- Per asset ever seen: its depth along parent edges (0 = a root), the top of its tree
-- (`tree_root_id`, itself for a root; may be an id that was never synced, see root_synced in
-- lineage_trees), and how many direct children and descendants it has.
CREATE VIEW lineage_depth AS
WITH anc AS MATERIALIZED (
    SELECT asset_id, ancestor_id, depth FROM asset_ancestry
),
up AS (
    SELECT asset_id, max(depth) AS depth, arg_max(ancestor_id, depth) AS tree_root_id
    FROM anc GROUP BY asset_id
),
down AS (
    SELECT ancestor_id AS asset_id,
           count(*) FILTER (WHERE depth = 1) AS children,
           count(*) AS descendants
    FROM anc GROUP BY ancestor_id
)
SELECT
    a.id,
    a.type,
    a.deleted_at IS NULL AS is_live,
    a.created_at,
    coalesce(up.depth, 0)::INTEGER AS depth,
    coalesce(up.tree_root_id, a.id) AS tree_root_id,
    coalesce(down.children, 0)::BIGINT AS children,
    coalesce(down.descendants, 0)::BIGINT AS descendants
FROM assets AS a
LEFT JOIN up ON up.asset_id = a.id
LEFT JOIN down ON down.asset_id = a.id;

-- One row per lineage tree (a root and everything derived from it, singletons included):
-- size in synced assets (deleted ones counted, live_size without them), deepest level, the
-- distinct types in it. root_synced is false when the root was never synced (outside the
-- stream's scope, or not visible to the credentials): then root_type is NULL.
CREATE VIEW lineage_trees AS
SELECT
    d.tree_root_id AS root_id,
    any_value(r.type) AS root_type,
    any_value(c.category) AS root_category,
    count(r.id) > 0 AS root_synced,
    count(*)::BIGINT AS tree_size,
    (count(*) FILTER (WHERE d.is_live))::BIGINT AS live_size,
    max(d.depth)::INTEGER AS max_depth,
    list_sort(list_distinct(list(d.type))) AS types,
    min(d.created_at) AS first_created_at,
    max(d.created_at) AS last_created_at
FROM lineage_depth AS d
LEFT JOIN assets AS r ON r.id = d.tree_root_id AND d.id = d.tree_root_id
LEFT JOIN asset_categories AS c ON c.id = r.id
GROUP BY d.tree_root_id;

-- Activity per UTC day, type, derivation category, model and author: assets created, versions
-- that were updates (updated_at after created_at), and assets marked deleted (on the day the
-- deletion was detected). daily_activity is the same without category and author.
CREATE VIEW activity_daily AS
WITH events AS (
    SELECT CAST(timezone('UTC', a.created_at) AS DATE) AS day, a.type, c.category, a.model_id,
           a.author_id, 1 AS created, 0 AS updated, 0 AS deleted
    FROM assets AS a JOIN asset_categories AS c ON c.id = a.id
    WHERE a.created_at IS NOT NULL
    UNION ALL
    SELECT CAST(timezone('UTC', v.updated_at) AS DATE), v.type, c.category, v.model_id,
           v.author_id, 0, 1, 0
    FROM asset_versions AS v LEFT JOIN asset_categories AS c ON c.id = v.id
    WHERE v.created_at IS NULL OR v.updated_at > v.created_at
    UNION ALL
    SELECT CAST(timezone('UTC', a.deleted_at) AS DATE), a.type, c.category, a.model_id,
           a.author_id, 0, 0, 1
    FROM assets AS a JOIN asset_categories AS c ON c.id = a.id
    WHERE a.deleted_at IS NOT NULL
)
SELECT day, type, category, model_id, author_id,
       sum(created)::BIGINT AS created,
       sum(updated)::BIGINT AS updated,
       sum(deleted)::BIGINT AS deleted
FROM events
GROUP BY ALL;

-- One row per version in asset_versions: what changed versus the previous version of the same
-- id. `version` counts from 1 (the first version OBSERVED, not necessarily the creation: a
-- first sync sees only the latest state); the first has changed_fields = [] and is_first_seen.
-- changed_fields lists the asset columns that differ (NULL-aware; tags and collection_ids
-- compared as sets); `raw` and `updated_at` always differ and are not listed.
CREATE VIEW asset_changes AS
WITH v AS (
    SELECT
        id, updated_at, run_id, synced_at, status, privacy, name, url, tags, collection_ids,
        project_id, owner_id, author_id, kind, type, source, mime_type, width, height,
        size_bytes, parent_id, root_id, inference_id, model_id, created_at,
        row_number() OVER w AS version,
        lag(updated_at) OVER w AS prev_updated_at,
        lag(status) OVER w AS prev_status,
        lag(privacy) OVER w AS prev_privacy,
        lag(name) OVER w AS prev_name,
        lag(url) OVER w AS prev_url,
        lag(tags) OVER w AS prev_tags,
        lag(collection_ids) OVER w AS prev_collection_ids,
        lag(project_id) OVER w AS prev_project_id,
        lag(owner_id) OVER w AS prev_owner_id,
        lag(author_id) OVER w AS prev_author_id,
        lag(kind) OVER w AS prev_kind,
        lag(type) OVER w AS prev_type,
        lag(source) OVER w AS prev_source,
        lag(mime_type) OVER w AS prev_mime_type,
        lag(width) OVER w AS prev_width,
        lag(height) OVER w AS prev_height,
        lag(size_bytes) OVER w AS prev_size_bytes,
        lag(parent_id) OVER w AS prev_parent_id,
        lag(root_id) OVER w AS prev_root_id,
        lag(inference_id) OVER w AS prev_inference_id,
        lag(model_id) OVER w AS prev_model_id,
        lag(created_at) OVER w AS prev_created_at
    FROM asset_versions
    WINDOW w AS (PARTITION BY id ORDER BY updated_at)
)
SELECT
    id,
    version::INTEGER AS version,
    updated_at AS changed_at,
    prev_updated_at,
    prev_updated_at IS NULL AS is_first_seen,
    CASE WHEN prev_updated_at IS NULL THEN []::VARCHAR[] ELSE list_filter([
        CASE WHEN status IS DISTINCT FROM prev_status THEN 'status' END,
        CASE WHEN privacy IS DISTINCT FROM prev_privacy THEN 'privacy' END,
        CASE WHEN name IS DISTINCT FROM prev_name THEN 'name' END,
        CASE WHEN list_sort(list_distinct(tags))
                  IS DISTINCT FROM list_sort(list_distinct(prev_tags)) THEN 'tags' END,
        CASE WHEN list_sort(list_distinct(collection_ids))
                  IS DISTINCT FROM list_sort(list_distinct(prev_collection_ids))
             THEN 'collection_ids' END,
        CASE WHEN url IS DISTINCT FROM prev_url THEN 'url' END,
        CASE WHEN project_id IS DISTINCT FROM prev_project_id THEN 'project_id' END,
        CASE WHEN owner_id IS DISTINCT FROM prev_owner_id THEN 'owner_id' END,
        CASE WHEN author_id IS DISTINCT FROM prev_author_id THEN 'author_id' END,
        CASE WHEN kind IS DISTINCT FROM prev_kind THEN 'kind' END,
        CASE WHEN type IS DISTINCT FROM prev_type THEN 'type' END,
        CASE WHEN source IS DISTINCT FROM prev_source THEN 'source' END,
        CASE WHEN mime_type IS DISTINCT FROM prev_mime_type THEN 'mime_type' END,
        CASE WHEN width IS DISTINCT FROM prev_width THEN 'width' END,
        CASE WHEN height IS DISTINCT FROM prev_height THEN 'height' END,
        CASE WHEN size_bytes IS DISTINCT FROM prev_size_bytes THEN 'size_bytes' END,
        CASE WHEN parent_id IS DISTINCT FROM prev_parent_id THEN 'parent_id' END,
        CASE WHEN root_id IS DISTINCT FROM prev_root_id THEN 'root_id' END,
        CASE WHEN inference_id IS DISTINCT FROM prev_inference_id THEN 'inference_id' END,
        CASE WHEN model_id IS DISTINCT FROM prev_model_id THEN 'model_id' END,
        CASE WHEN created_at IS DISTINCT FROM prev_created_at THEN 'created_at' END
    ], lambda f: f IS NOT NULL) END AS changed_fields,
    prev_status AS status_before, status AS status_after,
    prev_privacy AS privacy_before, privacy AS privacy_after,
    prev_name AS name_before, name AS name_after,
    list_filter(coalesce(tags, []), lambda t: NOT list_contains(coalesce(prev_tags, []), t))
        AS tags_added,
    list_filter(coalesce(prev_tags, []), lambda t: NOT list_contains(coalesce(tags, []), t))
        AS tags_removed,
    run_id,
    synced_at
FROM v;

-- Deletions per UTC day (of detection by a complete reconciliation: deleted_at), type and
-- derivation category, with how old the deleted assets were (days from created_at).
-- Revived assets have deleted_at cleared, so they are not counted.
CREATE VIEW deletions_daily AS
SELECT
    CAST(timezone('UTC', a.deleted_at) AS DATE) AS day,
    a.type,
    c.category,
    count(*)::BIGINT AS deleted,
    median((epoch(a.deleted_at) - epoch(a.created_at)) / 86400.0) AS median_age_days
FROM assets AS a
JOIN asset_categories AS c ON c.id = a.id
WHERE a.deleted_at IS NOT NULL
GROUP BY ALL;

-- One row per run with what a person watches: outcome, duration, how stale the copy was when
-- the run ended (lag_s: finished_at - watermark_after; NULL for runs with no watermark), counts.
CREATE VIEW sync_health AS
SELECT
    run_id,
    stream_id,
    mode,
    outcome,
    started_at,
    finished_at,
    CAST(timezone('UTC', started_at) AS DATE) AS day,
    epoch(finished_at) - epoch(started_at) AS duration_s,
    watermark_before,
    watermark_after,
    epoch(finished_at) - epoch(watermark_after) AS lag_s,
    fetched, new, updated, unchanged, rejected, pages, requests, retries, throttled,
    deleted, revived,
    error
FROM sync_runs;
