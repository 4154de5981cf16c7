"""Turn rows of `Columns` into API asset objects, on demand.

Everything not stored in a column is derived from the asset's 64-bit `salt` (and its `version`,
which mutations bump), so rendering the same row twice gives the same object and an update
visibly changes the URL signatures, name, description and tags.

`Renderer.page` builds the asset dicts: it is the readable specification. Serving uses
`fast_render.FastRenderer.page_json`, which writes the very same JSON bytes.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from itertools import compress
from typing import Any

import numpy as np
import numpy.typing as npt

from .generator import PRIVACIES, Columns
from .ids import Codec, _b62_into
from .vocab import (
    EDIT_CAPABILITIES,
    FORMAT_BY_MIME,
    MIME_BY_KIND,
    NAME_STEMS,
    NEGATIVE_WORDS,
    SCHEDULERS,
    TAGS,
    TYPE_KIND,
    TYPES,
    WORDS,
)

CDN = "https://cdn.cloud.scenario.com"
KEY_PAIR_ID = "K36FIAB9LE2OLR"
U64 = npt.NDArray[np.uint64]
_SIZES = ((1024, 1024), (768, 1344), (1344, 768), (512, 512), (2048, 2048), (1536, 640))
_EDIT_BY_KIND = {"image": EDIT_CAPABILITIES, "image-hdr": ("UPSCALE_360",)}
_STATUS = ("error", "error", "pending", "pending", "success")  # 2% error, 2% pending
#: Per type code: (type, kind, possible mime types, has width/height).
_TYPE_INFO = tuple(
    (t, k, MIME_BY_KIND[k], k in ("image", "image-hdr", "video"))
    for t, k in zip(TYPES, TYPE_KIND, strict=True)
)
_ODD = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                 0xD6E8FEB86659FD93, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53,
                 0x85EBCA77C2B2AE63, 0x2545F4914F6CDD1D], dtype=np.uint64)  # fmt: skip
_PROMPT_SHIFTS = np.array([0, 7, 14, 21, 28, 35, 42, 49, 56], dtype=np.uint64)
#: Bit fields of the salt, in the order `page` unpacks them (shift, mask).
_FIELDS = (
    (0, 0xFFFF), (4, 0xFFFF), (8, 0x3FFFFF), (20, 3), (22, 1), (23, 3), (24, 0x7F), (30, 7),
    (33, 0xFF), (36, 1), (40, 0xFFFF), (44, 0x7FF), (50, 1), (52, 3), (54, 3), (56, 3), (58, 7),
    (57, 63),
)  # fmt: skip
_FIELD_SHIFTS = np.array([f[0] for f in _FIELDS], dtype=np.uint64)
_FIELD_MASKS = np.array([f[1] for f in _FIELDS], dtype=np.uint64)
_NEGATIVES = tuple(", ".join(NEGATIVE_WORDS[: 2 + k]) for k in range(5))


def mix(x: U64) -> U64:
    """splitmix64 finalizer over a uint64 array (wrapping arithmetic): well-spread bits."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return np.asarray(x ^ (x >> np.uint64(31)), dtype=np.uint64)


def b62_digits(columns: list[U64]) -> npt.NDArray[np.uint8]:
    """Fixed-width (11) base62 ASCII digits of the concatenated uint64 columns, one row each."""
    flat = np.concatenate(columns)
    digits = np.empty((len(flat), 11), dtype=np.uint8)
    _b62_into(flat, digits)
    return digits


def join_rows(prefix: bytes, *parts: npt.NDArray[np.uint8]) -> list[str]:
    """One ASCII string per row: `prefix` followed by each part's bytes."""
    m = len(parts[0])
    head = np.broadcast_to(np.frombuffer(prefix, dtype=np.uint8), (m, len(prefix)))
    table = np.hstack([head, *parts]) if prefix else np.hstack(parts)
    width = table.shape[1]
    text = table.tobytes().decode("ascii")
    return [text[k : k + width] for k in range(0, m * width, width)]


def _bits(table: tuple[str, ...], mask: int) -> tuple[str, ...]:
    return tuple(t for b, t in enumerate(table) if mask >> b & 1)


class Codecs:
    """The id families of one seed."""

    def __init__(self, seed: int) -> None:
        self.asset = Codec("asset_", seed, "asset")
        self.project = Codec("proj_", seed, "project", tail=0)
        self.author = Codec("", seed, "author")
        self.inference = Codec("inf_", seed, "inference")
        self.model = Codec("model_", seed, "model", tail=0)
        self.collection = Codec("coll_", seed, "collection", tail=0)
        self.team = Codec("team_", seed, "team", tail=0)  # other organizations
        self.thumb = Codec("asset_", seed, "thumbnail")  # never decoded: keys are mixes


class Renderer:
    """Builds asset dicts for rows of a `Columns` (which the caller keeps locked)."""

    def __init__(self, codecs: Codecs, seed: int, embedding_dim: int) -> None:
        self.codecs = codecs
        key = hashlib.sha256(f"render/{seed}".encode()).digest()
        self._k = [np.uint64(int.from_bytes(key[8 * j : 8 * j + 8], "big")) for j in range(4)]
        self.embedding_dim = embedding_dim
        self._small: dict[Codec, dict[int, str]] = {}
        self._tags: dict[int, tuple[str, ...]] = {}
        self._edits: dict[tuple[str, int], tuple[str, ...]] = {}

    def _names(self, codec: Codec, indices: set[int]) -> dict[int, str]:
        """Ids of small families (projects, authors, models...), memoized per codec."""
        cache = self._small.setdefault(codec, {})
        missing = [i for i in indices if i not in cache and i >= 0]
        for i in missing:
            cache[i] = codec.encode(i)
        return cache

    def _prompts(self, inference: npt.NDArray[np.int32]) -> list[tuple[str, int, int]]:
        """(prompt, negative-prompt code, seed) per row; shared by an inference's batch."""
        h1 = mix(inference.astype(np.uint64) ^ self._k[0])
        h2 = mix(h1)
        word_bits = np.concatenate(
            [(h1[:, None] >> _PROMPT_SHIFTS[:9]) & np.uint64(127),
             (h2[:, None] >> _PROMPT_SHIFTS[:4]) & np.uint64(127)], axis=1,
        ) % np.uint64(len(WORDS))  # fmt: skip
        extra = ((h2[:, None] >> _PROMPT_SHIFTS[4:7]) & np.uint64(0xFFFFFF)).tolist()
        return [
            (" ".join([WORDS[k] for k in row[: 5 + e[0] % 9]]), e[1] % 6, (e[2] << 8) ^ e[0])
            for row, e in zip(word_bits.tolist(), extra, strict=True)
        ]

    def page(self, cols: Columns, idx: Sequence[int] | npt.NDArray[np.int64],
             original: bool = False) -> list[dict[str, Any]]:  # fmt: skip
        """Render rows `idx`, in that order. `original`: URLs of untransformed files."""
        ix = np.asarray(idx, dtype=np.int64)
        if len(ix) == 0:
            return []
        c = self.codecs
        n = len(ix)
        salt, version = cols.salt[ix], cols.version[ix]
        h = mix(salt ^ version.astype(np.uint64))  # bits that change with every update
        rand = h[:, None] * _ODD[None, :]
        rand ^= rand >> np.uint64(29)  # 8 words: 6 for the URL signatures, 2 for a thumbnail id
        sigs = base64.urlsafe_b64encode(np.ascontiguousarray(rand[:, :6]).tobytes()).decode()
        sig_main = [sigs[k : k + 43] for k in range(0, 64 * n, 64)]  # 48 bytes: 64 chars a row
        sig_other = [sigs[k + 43 : k + 64] for k in range(0, 64 * n, 64)]
        parent, root, inference = cols.parent[ix], cols.root[ix], cols.inference[ix]
        keys = cols.idkey[np.concatenate([ix, np.maximum(parent, 0), np.maximum(root, 0)])]
        inf_key = c.inference.permute_array(np.maximum(inference, 0).astype(np.int64))
        # All base62 digits of the page in ONE numpy pass, then each family of strings is laid
        # out as bytes and sliced once: per-call and per-string overheads dominate at n=100.
        digits = b62_digits(
            [keys, c.asset.tag_array(keys), inf_key, c.inference.tag_array(inf_key),
             rand[:, 6], rand[:, 7]]
        )  # fmt: skip  # row blocks of n: 3 keys, 3 tags, inference key, tag, 2 random words

        def block(j: int, count: int = 1) -> npt.NDArray[np.uint8]:
            return digits[j * n : (j + count) * n]

        asset_ids = join_rows(b"asset_", block(0, 3), block(3, 3))  # own, parent, root
        inference_ids = join_rows(b"inf_", block(6), block(7))
        thumb_ids = join_rows(b"asset_", block(8), block(9))
        created = cols.created[ix]
        expires = (created // 1000 + 2_592_000 * (1 + version.astype(np.int64))).tolist()
        both = np.concatenate([created, cols.updated[ix]]).astype("datetime64[ms]")
        stamps = [t + "Z" for t in np.datetime_as_string(both, unit="ms").tolist()]
        has_prompt = inference >= 0
        prompts = self._prompts(inference[has_prompt])
        prompt_iter = iter(prompts)
        fields = ((salt[:, None] >> _FIELD_SHIFTS) & _FIELD_MASKS).tolist()
        projects, models = cols.project[ix].tolist(), cols.model[ix].tolist()
        authors, collections = cols.author[ix].tolist(), cols.collection[ix].tolist()
        foreign = cols.foreign[ix].tolist()
        teams = self._names(c.team, set(compress(projects, foreign)))
        owners = self._names(c.project, set(projects))
        author_ids = self._names(c.author, set(authors))
        model_ids = self._names(c.model, set(models))
        collection_ids = self._names(c.collection, set(collections))
        rows = zip(
            ix.tolist(), asset_ids[:n], asset_ids[n : 2 * n], asset_ids[2 * n :], thumb_ids,
            inference_ids, salt.tolist(), h.tolist(),
            fields, cols.type_code[ix].tolist(), projects, cols.privacy[ix].tolist(), foreign,
            parent.tolist(), inference.tolist(), models, authors, collections,
            cols.tags[ix].tolist(), cols.out_index[ix].tolist(), version.tolist(),
            stamps[:n], stamps[n:], sig_main, sig_other, expires, strict=True,
        )  # fmt: skip
        transform = "/assets" if original else "/assets-transform"
        tag_cache, edit_cache = self._tags, self._edits
        out = []
        for (i, asset_id, parent_id, root_id, thumb_id, inference_id, s, hv, fl, tc, proj,
             priv, other_org, par, inf, mdl, auth, coll, tags, oi, ver, cre, upd, sig, sig2,
             exp) in rows:  # fmt: skip
            (mime_pick, wh, size, desc, nsfw, nsfw_val, status, named, stem, orig_id, dur,
             edit_mask, fps, thumbed, hidden, orig_url, caption, emb) = fl  # fmt: skip
            type_name, kind, mimes, visual = _TYPE_INFO[tc]
            mime = mimes[mime_pick % len(mimes)]
            fmt = FORMAT_BY_MIME[mime]
            size += 40_000
            owner = teams[proj] if other_org else owners[proj]
            tail = f"?Expires={exp}&Signature={sig}&Key-Pair-Id={KEY_PAIR_ID}"
            meta: dict[str, Any] = {"type": type_name, "kind": kind}
            if visual:
                width, height = _SIZES[wh % 6]
                props: dict[str, Any] = {"size": size, "width": width, "height": height,
                                         "format": fmt}  # fmt: skip
                if kind == "video":
                    props["duration"] = 1 + dur % 30_000 / 1000
                    props["frameRate"] = 30 if fps else 24
                else:
                    meta["width"], meta["height"] = width, height
            elif kind == "audio":
                props = {"size": size, "duration": 1 + dur % 30_000 / 1000, "format": fmt}
            else:
                props = {"size": size, "format": fmt}
            if named:
                suffix = f" v{ver + 1}" if ver else ""
                meta["name"] = f"{NAME_STEMS[stem % len(NAME_STEMS)]}_{i % 10000:04d}{suffix}"
            meta["size"] = size
            if par >= 0:
                meta["parentId"] = parent_id
                meta["rootParentId"] = root_id
                if orig_id and type_name.startswith("upscale"):
                    meta["originalAssetId"] = root_id
                if inf < 0:
                    meta["parentJobId"] = "job_" + thumb_id[6:]
            if inf >= 0:
                prompt, negative, seed = next(prompt_iter)
                meta["inferenceId"] = inference_id
                meta["modelId"] = model_ids[mdl] if mdl >= 0 else "flux.1-dev"
                meta["prompt"] = prompt
                if negative < 5:
                    meta["negativePrompt"] = _NEGATIVES[negative]
                meta["seed"] = str(seed) if seed & 1 else seed  # both forms exist in the wild
                meta["outputIndex"] = oi
                meta["numInferenceSteps"] = 20 + seed % 30
                meta["guidance"] = 3.5 + (seed >> 5) % 8 / 2
                meta["scheduler"] = SCHEDULERS[seed % 3]
            tag_names = tag_cache.get(tags)
            if tag_names is None:
                tag_names = tag_cache[tags] = _bits(TAGS, tags)
            edits = edit_cache.get((kind, edit_mask))
            if edits is None:
                edits = _bits(_EDIT_BY_KIND.get(kind, ()), edit_mask)
                edit_cache[(kind, edit_mask)] = edits
            asset: dict[str, Any] = {
                "id": asset_id,
                "url": f"{CDN}{transform}/{owner}/{asset_id}{tail}",
                "mimeType": mime,
                "kind": kind,
                "source": type_name,
                "ownerId": owner,
                "authorId": author_ids[auth],
                "createdAt": cre,
                "updatedAt": upd,
                "privacy": PRIVACIES[priv],
                "tags": list(tag_names),
                "collectionIds": [collection_ids[coll]] if coll >= 0 else [],
                "status": _STATUS[min(status % 100, 4)],
                "editCapabilities": list(edits),
                "properties": props,
                "metadata": meta,
            }
            if desc == 0 or ver:
                asset["description"] = f"Asset {i} revision {ver}" + (" — édité ✨" if ver else "")
            if nsfw:
                asset["nsfw"] = [] if nsfw_val else ["suggestive"]
            if thumbed == 0 or kind == "video" or kind == "3d":
                thumb_url = f"{CDN}/thumbs/{owner}/{thumb_id}?Expires={exp}&Signature={sig2}"
                thumb = {"assetId": thumb_id, "url": thumb_url}
                asset["thumbnail"] = thumb
                meta["thumbnail"] = thumb
                if kind == "video":
                    asset["firstFrame"] = thumb
                    asset["lastFrame"] = {"assetId": thumb_id[:-1] + "L", "url": thumb_url}
                elif kind == "3d":
                    asset["preview"] = thumb
            if hidden == 0:
                asset["isHidden"] = bool(hv & 1)
            if orig_url:
                asset["originalFileUrl"] = f"{CDN}/assets/{owner}/{asset_id}{tail}"
            if inf >= 0:
                asset["outputIndex"] = oi
            if caption == 0:
                caption = f"{WORDS[hv % len(WORDS)]} {WORDS[(hv >> 8) % len(WORDS)]}"
                asset["automaticCaptioning"] = caption
            if emb == 0 and self.embedding_dim:
                vec = np.random.default_rng(s).standard_normal(self.embedding_dim)
                asset["embedding"] = np.round(vec, 6).tolist()
            out.append(asset)
        return out
