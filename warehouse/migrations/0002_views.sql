-- Analytics views. Day boundaries are UTC whatever the session's TimeZone.

-- Assets that exist (not marked deleted by a complete reconciliation).
CREATE VIEW live_assets AS
SELECT * FROM assets WHERE deleted_at IS NULL;

-- SCD2 history: a version is valid from its updated_at until the next version's updated_at;
-- the last version of a deleted asset ends at deleted_at. is_current: last and not deleted.
CREATE VIEW asset_history AS
SELECT
    v.*,
    v.updated_at AS valid_from,
    coalesce(
        lead(v.updated_at) OVER w,
        CASE WHEN a.deleted_at IS NOT NULL THEN a.deleted_at END
    ) AS valid_to,
    (lead(v.updated_at) OVER w IS NULL AND a.deleted_at IS NULL) AS is_current
FROM asset_versions AS v
LEFT JOIN assets AS a ON a.id = v.id
WINDOW w AS (PARTITION BY v.id ORDER BY v.updated_at);

-- Every ancestor of every asset along `parent` edges, depth 1 = direct parent.
-- Cycle-safe: a path never revisits an asset.
CREATE VIEW asset_ancestry AS
WITH RECURSIVE anc(asset_id, ancestor_id, depth, path) AS (
    SELECT asset_id, related_id, 1, [asset_id, related_id]
    FROM asset_lineage
    WHERE relation = 'parent'
    UNION ALL
    SELECT anc.asset_id, l.related_id, anc.depth + 1, list_append(anc.path, l.related_id)
    FROM anc
    JOIN asset_lineage AS l ON l.asset_id = anc.ancestor_id AND l.relation = 'parent'
    WHERE NOT list_contains(anc.path, l.related_id)
)
SELECT asset_id, ancestor_id, depth FROM anc;

-- The same relation read downwards: every descendant of every asset, depth 1 = child.
CREATE VIEW asset_descendants AS
SELECT ancestor_id AS asset_id, asset_id AS descendant_id, depth FROM asset_ancestry;

-- Activity per UTC day, asset type and model: assets created, versions that were updates
-- (updated_at after created_at), and assets marked deleted (on the day it was detected).
CREATE VIEW daily_activity AS
WITH events AS (
    SELECT CAST(timezone('UTC', created_at) AS DATE) AS day, type, model_id,
           1 AS created, 0 AS updated, 0 AS deleted
    FROM assets WHERE created_at IS NOT NULL
    UNION ALL
    SELECT CAST(timezone('UTC', updated_at) AS DATE), type, model_id, 0, 1, 0
    FROM asset_versions WHERE created_at IS NULL OR updated_at > created_at
    UNION ALL
    SELECT CAST(timezone('UTC', deleted_at) AS DATE), type, model_id, 0, 0, 1
    FROM assets WHERE deleted_at IS NOT NULL
)
SELECT day, type, model_id,
       sum(created)::BIGINT AS created,
       sum(updated)::BIGINT AS updated,
       sum(deleted)::BIGINT AS deleted
FROM events
GROUP BY ALL;
