"""Where Parquet exports live, and how a snapshot becomes current, is found, and is collected.

`warehouse.export` writes a snapshot's files under `dest/snapshots/<id>/`; this module owns
the rest of a snapshot's life: the destination (a local folder or `s3://bucket/prefix`), the
snapshot ids, publication, the readers' entry points, and garbage collection.

Atomicity for readers. A snapshot directory is immutable once written and is published by
one atomic step: `_CURRENT.json` replaced by rename (local) or a single PUT (S3), and locally
each dataset symlink replaced by `os.replace` of a fresh symlink.
* Strict (every destination, and the only way on S3): read `_CURRENT.json` (or call
  `current_snapshot(dest)`) once and read under that snapshot's path. Nothing there changes,
  and all three tables come from the same warehouse transaction.
* Convenient (local): read `dest/assets/**/*.parquet`. A glob re-resolves the symlink at
  every folder it opens, every entry it stats and every file it opens. DuckDB's lister also
  skips, silently, an entry whose stat fails. Without the `snapshot=<id>` level (the month
  folders have the same names in every snapshot), a swap in the middle of a glob dropped a
  month: its folder was opened in the old snapshot, its file's stat went to the new one and
  failed, and the other months were listed in the new one. That read returned one snapshot
  with a month missing, and no error (seen once in CI). With the level, every path under the
  link names its snapshot, and only that snapshot holds it. Once the link moves, no path
  listed before resolves: the later listings come back empty, and every file open fails.
  Files are opened only after the glob is complete, so a read that straddles a swap fails
  with "No such file" or "No files found" (retry) instead of returning a partial or mixed
  snapshot. Old snapshots stay for `grace` after being superseded, so a reader that resolved
  the old one finishes.
Garbage collection, at the end of each export, deletes complete snapshots superseded (by a
later complete one) more than `grace` ago, and partial snapshots (no `_manifest.json`: a crashed
export) started more than `grace` ago; never the current one. `grace` must therefore exceed
both the longest read of a snapshot and the longest export.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pyarrow.fs as pafs

from warehouse.errors import WarehouseError

CURRENT = "_CURRENT.json"
MANIFEST = "_manifest.json"
SNAPSHOTS = "snapshots"
#: The hive level under each dataset naming its snapshot (what keeps a racing glob honest).
SNAPSHOT_KEY = "snapshot"
_STAMP = "%Y%m%dT%H%M%S%fZ"


def new_snapshot_id(now: datetime) -> str:
    """`<UTC stamp>-<random>`: ordered by time, unique; garbage collection reads the stamp."""
    return now.strftime(_STAMP) + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class Destination:
    """A resolved destination: a pyarrow filesystem and the root path inside it."""

    fs: pafs.FileSystem
    root: str
    uri: str
    local: bool

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def display(self, *parts: str) -> str:
        return "/".join([self.uri.rstrip("/"), *parts])


def resolve_destination(
    dest: str,
    filesystem: pafs.FileSystem | None = None,
    s3_endpoint: str | None = None,
    s3_region: str | None = None,
) -> Destination:
    """Local folder or `s3://bucket/prefix`.

    S3 credentials come from the standard AWS chain (env `AWS_ACCESS_KEY_ID`/
    `AWS_SECRET_ACCESS_KEY`, profiles, instance roles); the endpoint from `s3_endpoint`, else
    env `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (S3-compatible stores, tests); the region
    from `s3_region`, else `AWS_REGION`/`AWS_DEFAULT_REGION`.
    """
    parsed = urlparse(dest)
    if parsed.scheme == "s3":
        root = (parsed.netloc + parsed.path).rstrip("/")
        if filesystem is None:
            endpoint = (
                s3_endpoint
                or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL")
            )
            # allow_delayed_open: a file smaller than one part is a single PUT instead of a
            # multipart upload (fewer requests; also sidesteps moto 5.2's broken
            # CompleteMultipartUpload response, getmoto/moto#10055, in the tests).
            kwargs: dict[str, object] = {
                "allow_delayed_open": True,
                "region": s3_region
                or os.environ.get("AWS_REGION")
                or os.environ.get("AWS_DEFAULT_REGION")
                or "us-east-1",
            }
            if endpoint:
                ep = urlparse(endpoint if "://" in endpoint else "https://" + endpoint)
                kwargs["endpoint_override"] = ep.netloc
                kwargs["scheme"] = ep.scheme
            filesystem = pafs.S3FileSystem(**kwargs)
        return Destination(filesystem, root, dest.rstrip("/"), local=False)
    if parsed.scheme not in ("", "file"):
        raise WarehouseError(f"unsupported export destination {dest!r}: a folder or s3://")
    root = os.path.abspath(parsed.path if parsed.scheme == "file" else dest)
    return Destination(filesystem or pafs.LocalFileSystem(), root, root, local=True)


def put(target: Destination, rel: str, body: bytes) -> None:
    with target.fs.open_output_stream(target.path(rel)) as out:
        out.write(body)


def publish(target: Destination, snap_rel: str, manifest: bytes, datasets: Sequence[str]) -> None:
    """Make the snapshot current: dataset symlinks (local), then `_CURRENT.json`, atomically."""
    if target.local:
        for name in datasets:
            link = os.path.join(target.root, name)
            if os.path.exists(link) and not os.path.islink(link):
                raise WarehouseError(
                    f"{link} exists and is not a symlink made by an export; move it away"
                )
            tmp = f"{link}.{secrets.token_hex(4)}.tmp"
            os.symlink(os.path.join(snap_rel, name), tmp)
            os.replace(tmp, link)
        tmp = os.path.join(target.root, f"{CURRENT}.{secrets.token_hex(4)}.tmp")
        with open(tmp, "wb") as out:
            out.write(manifest)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, os.path.join(target.root, CURRENT))
    else:
        put(target, CURRENT, manifest)  # one PUT: atomic on S3


def read_current(
    dest: str, filesystem: pafs.FileSystem | None = None, s3_endpoint: str | None = None
) -> dict[str, object]:
    """The manifest of the current snapshot (raises WarehouseError if none was published)."""
    target = resolve_destination(dest, filesystem, s3_endpoint)
    try:
        with target.fs.open_input_stream(target.path(CURRENT)) as src:
            manifest: dict[str, object] = json.loads(src.read())
    except FileNotFoundError as exc:
        raise WarehouseError(f"no Parquet export published at {dest}") from exc
    return manifest


def current_snapshot(
    dest: str, filesystem: pafs.FileSystem | None = None, s3_endpoint: str | None = None
) -> str:
    """Path or URI of the current snapshot's root: read under it for strict consistency."""
    manifest = read_current(dest, filesystem, s3_endpoint)
    target = resolve_destination(dest, filesystem, s3_endpoint)
    return target.display(str(manifest["path"]))


def _stamp(name: str) -> datetime | None:
    try:
        return datetime.strptime(name.split("-", 1)[0], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def collect_garbage(target: Destination, grace: timedelta, now: datetime) -> tuple[str, ...]:
    """Delete snapshots superseded more than `grace` ago (and stale partial ones)."""
    try:
        current = str(json.loads(_read(target, CURRENT))["snapshot"])
    except FileNotFoundError:
        return ()
    infos = target.fs.get_file_info(pafs.FileSelector(target.path(SNAPSHOTS)))
    names = sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)
    manifests = target.fs.get_file_info([target.path(SNAPSHOTS, n, MANIFEST) for n in names])
    complete = [n for n, m in zip(names, manifests, strict=True) if m.type == pafs.FileType.File]
    removed: list[str] = []
    for name in names:
        stamp = _stamp(name)
        if name == current or stamp is None:
            continue
        if name in complete:
            # Readers may hold it until the next complete snapshot was published.
            later = [_stamp(n) for n in complete if n > name]
            since = later[0] if later else None
        else:
            since = stamp  # partial: abandoned by a crashed export (or one slower than grace)
        if since is not None and now - since >= grace:
            target.fs.delete_dir(target.path(SNAPSHOTS, name))
            removed.append(name)
    return tuple(removed)


def _read(target: Destination, rel: str) -> bytes:
    with target.fs.open_input_stream(target.path(rel)) as src:
        data: bytes = src.read()
    return data
