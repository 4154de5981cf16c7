"""Turn rows of `Columns` into API asset objects, on demand.

Everything not stored in a column is derived from the asset's 64-bit `salt` (and its `version`,
which mutations bump), so rendering the same row twice gives the same object and an update
visibly changes the URL signatures, name, description and tags.

`Renderer.page` builds the asset dicts: it is the readable specification. Serving uses
`FastRenderer.page_json`, which writes the very same JSON bytes (tested byte for byte against
`orjson.dumps(page(...))`) about twice as fast, column-wise from precomputed per-row ASCII
tables and small tables of JSON pieces, without building a dict.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from itertools import compress, repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

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


# -- the fast path: JSON text straight from the columns ------------------------------------
#
# `Renderer.page` (above) builds dicts that orjson serializes: ~60 µs per asset, most of it in
# the dict building. `FastRenderer.page_json` writes the very same JSON text (byte for byte:
# same keys, same order, same number formatting) with f-strings from prepared pieces: every
# string that depends only on a small code (type, mime, size class, tags, capabilities,
# collection...) is rendered once into a table, every number orjson would format as a float
# goes through orjson itself (memoized), and the per-asset loop only concatenates.


def _js(value: Any) -> str:
    """The JSON text orjson writes for `value` (used to fill the tables, not per asset)."""
    return orjson.dumps(value).decode()


def _plain(text: str) -> bool:
    """True when `text` needs no JSON escaping (so it can be pasted between quotes)."""
    return _js(text) == f'"{text}"'


assert all(
    _plain(s)
    for table in (WORDS, NEGATIVE_WORDS, NAME_STEMS, SCHEDULERS, TAGS, TYPES, EDIT_CAPABILITIES,
                  _NEGATIVES, tuple(FORMAT_BY_MIME), PRIVACIES, _STATUS, (CDN, KEY_PAIR_ID))
    for s in table
)  # fmt: skip
_KIND_CODES = tuple(dict.fromkeys(k for _, k, _, _ in _TYPE_INFO))
_TC_KIND = np.array([_KIND_CODES.index(k) for _, k, _, _ in _TYPE_INFO], dtype=np.int64)
_TC_NMIME = np.array([len(m) for _, _, m, _ in _TYPE_INFO], dtype=np.int64)
_NO_EDITS = (b"[]",) * 2048
_KC_3D = _KIND_CODES.index("3d")


def _shape_table() -> list[tuple[str, str, str, int, bool]]:
    """Per (type code, mime pick, size class): the pieces that depend only on them.

    (`"mimeType":…,"kind":…,"source":…`, the properties after `size`, the metadata head,
    flavour: 0 plain, 1 visual, 2 video, 3 audio; whether the type is an upscale.)
    """
    out = []
    for type_name, kind, mimes, visual in _TYPE_INFO:
        upscale = type_name.startswith("upscale")
        for m in range(3):
            mime = mimes[m % len(mimes)]
            fmt = FORMAT_BY_MIME[mime]
            head = f'"mimeType":"{mime}","kind":"{kind}","source":"{type_name}"'
            meta = f'{{"type":"{type_name}","kind":"{kind}"'
            for wh in range(6):
                width, height = _SIZES[wh]
                if visual:
                    props = f',"width":{width},"height":{height},"format":"{fmt}"'
                    if kind == "video":
                        out.append((head, props + ',"duration":', meta, 2, upscale))
                        continue
                    out.append((head, props + "}", meta + f',"width":{width},"height":{height}',
                                1, upscale))  # fmt: skip
                elif kind == "audio":
                    out.append((head, f',"format":"{fmt}"}}', meta, 3, upscale))
                else:
                    out.append((head, f',"format":"{fmt}"}}', meta, 0, upscale))
    return out


_SHAPES = _shape_table()
_SHAPE_HEAD = tuple(("," + shape[0]).encode() for shape in _SHAPES)
_SHAPE_PROPS = tuple(shape[1] for shape in _SHAPES)
_SHAPE_PROPS_BYTES = tuple(shape[1].encode() for shape in _SHAPES)
_SHAPE_META = tuple((',"metadata":' + shape[2]).encode() for shape in _SHAPES)
_SHAPE_FLAVOUR = np.array([shape[3] for shape in _SHAPES], dtype=np.int64)
_SHAPE_UPSCALE = np.array([shape[4] for shape in _SHAPES], dtype=bool)
_NSFW = (b"", b',"nsfw":[]', b',"nsfw":["suggestive"]')
_HIDDEN = (b"", b',"isHidden":false', b',"isHidden":true')
_KEY_PAIR = f'&Key-Pair-Id={KEY_PAIR_ID}"'.encode()
_THUMB_URL = f'","url":"{CDN}/thumbs/'.encode()
_ORIGINAL_URL = f',"originalFileUrl":"{CDN}/assets/'.encode()
_URL_ORIGINAL = f'","url":"{CDN}/assets/'.encode()
_URL_TRANSFORM = f'","url":"{CDN}/assets-transform/'.encode()
_GUIDANCE = tuple(_js(3.5 + k / 2) for k in range(8))
_PRIV_JSON = tuple(f',"privacy":"{p}","tags":'.encode() for p in PRIVACIES)
#: By the salt's 7-bit status field (as `page` maps it: `_STATUS[min(field % 100, 4)]`).
_STATUS_JSON = tuple(
    f',"status":"{_STATUS[min(k % 100, 4)]}","editCapabilities":'.encode() for k in range(128)
)
_NEG_JSON = (*(f',"negativePrompt":"{s}"' for s in _NEGATIVES), "")


_D4 = tuple(f"{k:04d}" for k in range(10_000))
_STEMS = tuple(NAME_STEMS[k % len(NAME_STEMS)] for k in range(256))  # by the 8-bit field
_N_WORDS = len(WORDS)
_CAPTIONS = tuple(
    tuple(f',"automaticCaptioning":"{a} {b}"'.encode() for b in WORDS) for a in WORDS
)
_EDITED = ' — édité ✨"'.encode()
_SCHED_JSON = tuple(f',"scheduler":"{s}"' for s in SCHEDULERS)


_DAY_MS = 86_400_000
_ROW_WIDTH = 211
_CHUNK = 1 << 17
_DAYS = 1 << 16  # 1970 .. 2149: the day table covers any plausible clock
_D2 = np.frombuffer("".join(f"{k:02d}" for k in range(100)).encode(), np.uint8).reshape(100, 2)
_D3 = np.frombuffer("".join(f"{k:03d}" for k in range(1000)).encode(), np.uint8).reshape(-1, 3)
_STAMP = np.frombuffer(b"YYYY-MM-DDT00:00:00.000Z", np.uint8)


def _versioned(salt: U64, version: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """Per row: thumbnail id digits (22) and URL signatures (64), as `Renderer.page` draws
    them from the version's hash."""
    h = mix(salt ^ version.astype(np.uint64))
    rand = h[:, None] * _ODD[None, :]
    rand ^= rand >> np.uint64(29)  # 8 words: 6 for the URL signatures, 2 for a thumbnail id
    out = np.empty((len(salt), 86), dtype=np.uint8)
    out[:, :22] = _b62_pairs(rand[:, 6], rand[:, 7])
    sigs = base64.urlsafe_b64encode(np.ascontiguousarray(rand[:, :6]).tobytes())
    out[:, 22:] = np.frombuffer(sigs, dtype=np.uint8).reshape(-1, 64)
    return out


class _Ids(dict[int, str]):
    """Ids of a small family (projects, authors, models...), encoded on first use."""

    def __init__(self, codec: Codec) -> None:
        super().__init__()
        self.codec = codec

    def __missing__(self, index: int) -> str:
        text = self[index] = self.codec.encode(index)
        return text


def _b62_pairs(keys: U64, tags: U64) -> npt.NDArray[np.uint8]:
    """Rows of 22 ASCII digits: base62(key) + base62(tag), the body of a 2x11-digit id."""
    out = np.empty((len(keys), 22), dtype=np.uint8)
    _b62_into(keys, out[:, :11])
    _b62_into(tags, out[:, 11:])
    return out


def _rows_text(table: npt.NDArray[np.uint8]) -> list[str]:
    """One ASCII string per row of a uint8 table."""
    width = table.shape[1]
    text = table.tobytes().decode("ascii")
    return [text[k : k + width] for k in range(0, len(text), width)]


def _rows(table: npt.NDArray[np.uint8]) -> list[bytes]:
    """One bytes object per row of a uint8 table, trailing NULs dropped (so an all-zero row
    is b""): numpy makes them in C, several times faster than slicing in Python."""
    table = np.ascontiguousarray(table)
    return table.view(f"S{table.shape[1]}").ravel().tolist()  # type: ignore[no-any-return]


_TEMPLATES: dict[tuple[bytes | int, ...], npt.NDArray[np.uint8]] = {}


def _layout(n: int, parts: list[bytes | npt.NDArray[np.uint8]]) -> npt.NDArray[np.uint8]:
    """The parts side by side (constants, or (n, width) ASCII tables), one row each.

    The constants are written once into a template row (memoized by layout), which is
    broadcast to the `n` rows in one copy; only the tables are then assigned.
    """
    key = tuple(p if isinstance(p, bytes) else p.shape[1] for p in parts)
    template = _TEMPLATES.get(key)
    if template is None:
        template = np.frombuffer(
            b"".join(p if isinstance(p, bytes) else b"\0" * p for p in key), np.uint8
        )[None, :]
        _TEMPLATES[key] = template
    out = np.repeat(template, n, axis=0)
    pos = 0
    for part, width in zip(parts, key, strict=True):
        if isinstance(width, bytes):
            pos += len(width)
        else:
            out[:, pos : pos + width] = part
            pos += width
    return out


def _assemble(n: int, parts: list[bytes | npt.NDArray[np.uint8]],
              keep: npt.NDArray[np.bool_] | None = None) -> list[bytes]:  # fmt: skip
    """One bytes object per row: the parts side by side; b"" where `keep` is False."""
    out = _layout(n, parts)
    if keep is not None:
        out[~keep] = 0
    return _rows(out)


def _expires(created: npt.NDArray[np.int64],
             version: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:  # fmt: skip
    """The URLs' `Expires` (seconds) as 10 ASCII digits, or `0000000000` when it has another
    width (never for dates from 2001 to 2286): `page_json` then renders the slow way."""
    expires = created // 1000 + 2_592_000 * (1 + version.astype(np.int64))
    expires[(expires < 10**9) | (expires >= 10**10)] = 0
    return _digits(expires, 10)


def _digits(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """Zero-padded decimal ASCII of non-negative values below 10**width (width even)."""
    out = np.empty((len(values), width), dtype=np.uint8)
    v = values.copy()
    for col in range(width - 2, -1, -2):
        out[:, col : col + 2] = _D2[v % 100]
        v //= 100
    return out


def _decimal(values: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint8]:
    """Decimal ASCII of positive values below 10**width, left-aligned and NUL-padded (how
    `_rows` wants a variable-width number)."""
    padded = _digits(values, width + width % 2)[:, width % 2 :]
    out = np.zeros_like(padded)
    n_digits = np.ones(len(values), dtype=np.int64)
    for d in range(1, width):
        n_digits += values >= 10**d
    for d in np.unique(n_digits).tolist():
        rows = n_digits == d
        out[rows, :d] = padded[rows, width - d :]
    return out


def _small_ids(codec: Codec, index: npt.NDArray[np.int32]) -> npt.NDArray[np.uint8]:
    """Ids of a small family (projects, teams, authors) for many rows: encode the distinct
    indices, then gather. Every id of a family has the same length."""
    if len(index) == 0:
        return np.empty((0, len(codec.encode(0))), dtype=np.uint8)
    distinct, inverse = np.unique(index, return_inverse=True)
    table = [codec.encode(int(k)).encode() for k in distinct.tolist()]
    return np.frombuffer(b"".join(table), np.uint8).reshape(len(table), -1)[inverse]


class _Memo(dict[int, bytes]):
    """A piece of JSON by small code, made on first use by `make`."""

    def __init__(self, make: Callable[[int], bytes]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, code: int) -> bytes:
        text = self[code] = self.make(code)
        return text


class FastRenderer(Renderer):
    """`Renderer` plus `page_json`: the same assets as JSON bytes, without building dicts.

    What a row's JSON needs that is fixed-width ASCII (ids, dates, signatures, `Expires`,
    size: 211 B per row) and each inference's id and prompt words are computed once for all
    rows, vectorized at start-up (`prepare`, extended when rows are added, `touch` after an
    update), so a page only gathers them; so are the ~1.6 % embeddings (the costliest field).
    """

    def __init__(self, codecs: Codecs, seed: int, embedding_dim: int) -> None:
        super().__init__(codecs, seed, embedding_dim)
        self._tag_json = _Memo(lambda mask: orjson.dumps(list(_bits(TAGS, mask))))
        self._ids = {
            name: _Ids(getattr(codecs, name))
            for name in ("project", "team", "author", "model", "collection")
        }
        collections = self._ids["collection"]
        self._collection_json = _Memo(
            lambda c: f',"collectionIds":["{collections[c]}"]'.encode()
            if c >= 0 else b',"collectionIds":[]'
        )  # fmt: skip
        #: By kind code * 2048 + the salt's 11-bit capability mask.
        self._edit_flat = tuple(
            text
            for k in _KIND_CODES
            for text in (
                tuple(orjson.dumps(list(_bits(_EDIT_BY_KIND[k], m))) for m in range(2048))
                if k in _EDIT_BY_KIND else _NO_EDITS
            )
        )  # fmt: skip
        self._durations: dict[int, str] = {}
        days = np.arange(_DAYS).astype("datetime64[D]")
        self._day_digits = np.frombuffer(
            "".join(np.datetime_as_string(days).tolist()).encode(), np.uint8
        ).reshape(_DAYS, 10)
        #: Per row, as ASCII: id digits (22), createdAt (24), updatedAt (24), what depends
        #: on the version: thumbnail id digits (22), URL signatures (43 + 21); ownerId (16),
        #: authorId (22), `Expires` (10), size (7, NUL-padded). 211 B per row.
        self._row_digits = np.empty((0, _ROW_WIDTH), dtype=np.uint8)
        #: Per inference: id digits (22), prompt word indices (13), prompt length in words.
        self._inference_digits = np.empty((0, 36), dtype=np.uint8)
        #: `,"embedding":[…]` of the rows that have one (their salt says so).
        self._embeddings: dict[int, bytes] = {}
        #: Per inference: negative-prompt code and seed.
        self._inference_params = np.empty((0, 2), dtype=np.int64)

    def prepare(self, cols: Columns) -> None:
        """Precompute the fixed parts of rows (and inferences) not seen yet: vectorized, in
        chunks, ~70 B per row and ~50 B per inference. `touch` refreshes updated rows."""
        have, n = len(self._row_digits), cols.n
        if have < n:
            more = np.empty((n - have, _ROW_WIDTH), dtype=np.uint8)
            for lo in range(have, n, _CHUNK):
                hi = min(lo + _CHUNK, n)
                part, keys = more[lo - have : hi - have], cols.idkey[lo:hi]
                _b62_into(keys, part[:, :11])
                _b62_into(self.codecs.asset.tag_array(keys), part[:, 11:22])
                part[:, 22:46] = self._stamp_digits(cols.created[lo:hi])
                part[:, 46:70] = self._stamp_digits(cols.updated[lo:hi])
                part[:, 70:156] = _versioned(cols.salt[lo:hi], cols.version[lo:hi])
                part[:, 156:172] = self._owner_digits(cols.project[lo:hi], cols.foreign[lo:hi])
                part[:, 172:194] = _small_ids(self.codecs.author, cols.author[lo:hi])
                part[:, 194:204] = _expires(cols.created[lo:hi], cols.version[lo:hi])
                size = (cols.salt[lo:hi] >> np.uint64(8)) & np.uint64(0x3FFFFF)  # as in `page`
                part[:, 204:211] = _decimal(size.astype(np.int64) + 40_000, 7)
            self._row_digits = np.concatenate([self._row_digits, more])
            if self.embedding_dim:  # ~1.6 % of rows, ~40 µs each: the costliest field
                salt = cols.salt[have:n]
                has = ((salt >> np.uint64(57)) & np.uint64(63)) == 0  # field `emb` of `page`
                for row in (have + np.nonzero(has)[0]).tolist():
                    self._embeddings[row] = self._embedding(int(cols.salt[row]))
        have, n = len(self._inference_digits), cols.n_inferences
        if have < n:
            c = self.codecs.inference
            more = np.empty((n - have, 36), dtype=np.uint8)
            params = np.empty((n - have, 2), dtype=np.int64)
            for lo in range(have, n, _CHUNK):
                hi = min(lo + _CHUNK, n)
                part = more[lo - have : hi - have]
                keys = c.permute_array(np.arange(lo, hi, dtype=np.int64))
                _b62_into(keys, part[:, :11])
                _b62_into(c.tag_array(keys), part[:, 11:22])
                h1 = mix(np.arange(lo, hi, dtype=np.uint64) ^ self._k[0])  # as in `_prompts`
                h2 = mix(h1)
                part[:, 22:31] = ((h1[:, None] >> _PROMPT_SHIFTS[:9]) & np.uint64(127)) % np.uint64(
                    len(WORDS))  # fmt: skip
                part[:, 31:35] = ((h2[:, None] >> _PROMPT_SHIFTS[:4]) & np.uint64(127)) % np.uint64(
                    len(WORDS))  # fmt: skip
                e = ((h2[:, None] >> _PROMPT_SHIFTS[4:7]) & np.uint64(0xFFFFFF)).astype(np.int64)
                part[:, 35] = 5 + e[:, 0] % 9
                params[lo - have : hi - have, 0] = e[:, 1] % 6
                params[lo - have : hi - have, 1] = (e[:, 2] << 8) ^ e[:, 0]
            self._inference_digits = np.concatenate([self._inference_digits, more])
            self._inference_params = np.concatenate([self._inference_params, params])

    def _owner_digits(self, project: npt.NDArray[np.int32],
                      foreign: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:  # fmt: skip
        out = np.empty((len(project), 16), dtype=np.uint8)
        out[~foreign] = _small_ids(self.codecs.project, project[~foreign])
        out[foreign] = _small_ids(self.codecs.team, project[foreign])
        return out

    def touch(self, cols: Columns, rows: npt.NDArray[np.int64]) -> None:
        """Rows whose `updated` and `version` changed (rows not prepared yet: see `prepare`)."""
        rows = rows[rows < len(self._row_digits)]
        self._row_digits[rows, 46:70] = self._stamp_digits(cols.updated[rows])
        self._row_digits[rows, 70:156] = _versioned(cols.salt[rows], cols.version[rows])
        self._row_digits[rows, 194:204] = _expires(cols.created[rows], cols.version[rows])

    def _stamp_digits(self, ms: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
        """`YYYY-MM-DDTHH:MM:SS.mmmZ` of epoch milliseconds (what orjson gets from `page`)."""
        day, tod = np.divmod(ms, _DAY_MS)
        if len(ms) and (day.min() < 0 or day.max() >= _DAYS):
            text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()
            return np.frombuffer("Z".join([*text, ""]).encode(), np.uint8).reshape(-1, 24)
        out = np.empty((len(ms), 24), dtype=np.uint8)
        out[:] = _STAMP
        out[:, :10] = self._day_digits[day]
        sec, milli = np.divmod(tod, 1000)
        minute, second = np.divmod(sec, 60)
        hour, minute = np.divmod(minute, 60)
        out[:, 11:13] = _D2[hour]
        out[:, 14:16] = _D2[minute]
        out[:, 17:19] = _D2[second]
        out[:, 20:23] = _D3[milli]
        return out

    def _embedding(self, salt: int) -> bytes:
        vec = np.random.default_rng(salt).standard_normal(self.embedding_dim)
        return b',"embedding":' + orjson.dumps(np.round(vec, 6).tolist())

    def _duration(self, dur: int) -> str:
        text = self._durations.get(dur)
        if text is None:
            text = self._durations[dur] = _js(1 + dur % 30_000 / 1000)
        return text

    def page_json(self, cols: Columns, idx: Sequence[int] | npt.NDArray[np.int64],
                  original: bool = False) -> list[bytes]:  # fmt: skip
        """JSON of rows `idx`, in that order: exactly `orjson.dumps(page(...)[k])`.

        Column-wise, in bytes: each of ~30 slots of the object (a fixed-width run of ids,
        dates and signatures laid out in numpy and cut into bytes by numpy, a piece looked
        up by a small code, or a piece only some rows have) is made for the whole page, then
        each row's slots are joined by one C-level call. Rare or variable pieces (inference
        parameters, durations, names, descriptions...) are filled by short loops over the rows
        that have them.
        """
        ix = np.asarray(idx, dtype=np.int64)
        n = len(ix)
        if n == 0:
            return []
        if len(self._row_digits) < cols.n or len(self._inference_digits) < cols.n_inferences:
            self.prepare(cols)
        row = self._row_digits[ix]
        exp = row[:, 194:204]
        if (exp[:, 0] == ord("0")).any():  # an `Expires` of another width: never in practice
            return [orjson.dumps(a) for a in self.page(cols, ix, original)]
        salt, version = cols.salt[ix], cols.version[ix]
        aid, thumb, owner = row[:, 0:22], row[:, 70:92], row[:, 156:172]
        parent, inference = cols.parent[ix], cols.inference[ix]
        lineage = self._row_digits[np.maximum(np.concatenate([parent, cols.root[ix]]), 0), :22]
        fields = ((salt[:, None] >> _FIELD_SHIFTS) & _FIELD_MASKS).astype(np.int64)
        (_, _, _, desc, nsfw, nsfw_val, status, named, stem, orig_id, dur,
         edit_mask, fps, thumbed, hidden, orig_url, caption, emb) = fields.T  # fmt: skip
        tcode = cols.type_code[ix].astype(np.int64)
        kind = _TC_KIND[tcode]
        shape = (tcode * 3 + fields[:, 0] % _TC_NMIME[tcode]) * 6 + fields[:, 1] % 6
        flavour = _SHAPE_FLAVOUR[shape]
        is_video, is_3d = flavour == 2, kind == _KC_3D
        has_thumb = (thumbed == 0) | is_video | is_3d
        has_parent, has_inference = parent >= 0, inference >= 0
        h = mix(salt ^ version.astype(np.uint64))
        sizes = _rows(row[:, 204:211])
        shapes = shape.tolist()
        wide = _layout(n, [_ORIGINAL_URL, owner, b"/asset_", aid, b"?Expires=", exp,
                           b"&Signature=", row[:, 92:135], _KEY_PAIR])  # fmt: skip
        tail = _rows(wide[:, len(_ORIGINAL_URL) :])
        wide[orig_url == 0] = 0
        thumbs = _assemble(n, [
            b',"thumbnail":{"assetId":"asset_', thumb, _THUMB_URL, owner, b"/asset_", thumb,
            b"?Expires=", exp, b"&Signature=", row[:, 135:156], b'"}',
        ], has_thumb)  # fmt: skip
        url_head = _URL_ORIGINAL if original else _URL_TRANSFORM
        names, origin, inferences, descriptions, frames, outputs, captions, embeddings = (
            [b""] * n for _ in range(8))  # fmt: skip
        props = list(map(_SHAPE_PROPS_BYTES.__getitem__, shapes))
        slots: list[Any] = [
            _assemble(n, [b'{"id":"asset_', aid, url_head]),
            tail,
            list(map(_SHAPE_HEAD.__getitem__, shapes)),  # mimeType, kind, source
            _assemble(n, [b',"ownerId":"', owner, b'","authorId":"', row[:, 172:194],
                          b'","createdAt":"', row[:, 22:46], b'","updatedAt":"', row[:, 46:70],
                          b'"']),
            list(map(_PRIV_JSON.__getitem__, cols.privacy[ix].tolist())),
            list(map(self._tag_json.__getitem__, cols.tags[ix].tolist())),
            list(map(self._collection_json.__getitem__, cols.collection[ix].tolist())),
            list(map(_STATUS_JSON.__getitem__, status.tolist())),
            list(map(self._edit_flat.__getitem__, (kind * 2048 + edit_mask).tolist())),
            repeat(b',"properties":{"size":', n),
            sizes,
            props,
            list(map(_SHAPE_META.__getitem__, shapes)),  # ,"metadata":{"type":…,"kind":…
            names,
            repeat(b',"size":', n),
            sizes,
            _assemble(n, [b',"parentId":"asset_', lineage[:n], b'","rootParentId":"asset_',
                          lineage[n:], b'"'], has_parent),
            origin,
            _assemble(n, [b',"parentJobId":"job_', thumb, b'"'], has_parent & ~has_inference),
            inferences,
            thumbs,
            repeat(b"}", n),  # end of metadata
            descriptions,
            list(map(_NSFW.__getitem__, (nsfw * (1 + (nsfw_val == 0))).tolist())),
            thumbs,
            frames,
            list(map(_HIDDEN.__getitem__, ((hidden == 0) * (
                1 + (h & np.uint64(1)).astype(np.int64))).tolist())),
            _rows(wide),  # originalFileUrl
            outputs,
            captions,
            embeddings,
            repeat(b"}", n),
        ]
        # The pieces that only some rows have, or that vary too much for a table.
        ixl, vers = ix.tolist(), version.tolist()
        for j in np.flatnonzero(flavour >= 2).tolist():  # video and audio durations
            d = self._duration(int(dur[j]))
            if flavour[j] == 3:  # audio: `,"format":"mp3"}` follows the duration
                props[j] = f',"duration":{d}{_SHAPE_PROPS[shapes[j]]}'.encode()
            else:
                frame_rate = 30 if fps[j] else 24
                props[j] = f'{_SHAPE_PROPS[shapes[j]]}{d},"frameRate":{frame_rate}}}'.encode()
        stems = stem.tolist()
        for j in np.flatnonzero(named).tolist():
            i, ver = ixl[j], vers[j]
            suffix = f" v{ver + 1}" if ver else ""
            names[j] = f',"name":"{_STEMS[stems[j]]}_{_D4[i % 10000]}{suffix}"'.encode()
        for j in np.flatnonzero(has_parent & (orig_id != 0) & _SHAPE_UPSCALE[shape]).tolist():
            origin[j] = b',"originalAssetId":"asset_' + lineage[n + j].tobytes() + b'"'
        self._inference_pieces(cols, ix[has_inference], np.flatnonzero(has_inference),
                               inferences, outputs)  # fmt: skip
        for j in np.flatnonzero((desc == 0) | (version > 0)).tolist():
            ver = vers[j]
            descriptions[j] = f',"description":"Asset {ixl[j]} revision {ver}'.encode() + (
                _EDITED if ver else b'"')  # fmt: skip
        for j in np.flatnonzero(is_video | is_3d).tolist():  # these always have a thumbnail
            body = thumbs[j][13:]  # {"assetId":"asset_<22 digits>","url":"…"}
            if is_video[j]:
                frames[j] = b',"firstFrame":%s,"lastFrame":%sL%s' % (body, body[:39], body[40:])
            else:
                frames[j] = b',"preview":' + body
        hv = h.tolist()
        for j in np.flatnonzero(caption == 0).tolist():
            w = hv[j]
            captions[j] = _CAPTIONS[w % _N_WORDS][(w >> 8) % _N_WORDS]
        if self.embedding_dim:
            salts = salt.tolist()
            for j in np.flatnonzero(emb == 0).tolist():
                embeddings[j] = self._embeddings.get(ixl[j]) or self._embedding(salts[j])
        return [b"".join(t) for t in zip(*slots, strict=True)]

    def _inference_pieces(self, cols: Columns, rows: npt.NDArray[np.int64],
                          at: npt.NDArray[np.int64], inferences: list[bytes],
                          outputs: list[bytes]) -> None:  # fmt: skip
        """Metadata of inference rows (`at`: their positions in the page)."""
        if not len(rows):
            return
        inf = cols.inference[rows]
        table = self._inference_digits[inf]
        model_ids = self._ids["model"]
        words = WORDS
        for j, iid, w, (negative, seed), mdl, oi in zip(
            at.tolist(), _rows_text(table[:, :22]), table[:, 22:].tolist(),
            self._inference_params[inf].tolist(), cols.model[rows].tolist(),
            cols.out_index[rows].tolist(), strict=True,
        ):  # fmt: skip
            prompt = " ".join(map(words.__getitem__, w[: w[-1]]))
            model = model_ids[mdl] if mdl >= 0 else "flux.1-dev"
            seed_text = f'"{seed}"' if seed & 1 else seed
            inferences[j] = (
                f',"inferenceId":"inf_{iid}","modelId":"{model}","prompt":"{prompt}"'
                f'{_NEG_JSON[negative]},"seed":{seed_text},"outputIndex":{oi}'
                f',"numInferenceSteps":{20 + seed % 30},"guidance":'
                f"{_GUIDANCE[(seed >> 5) % 8]}{_SCHED_JSON[seed % 3]}"
            ).encode()
            outputs[j] = b',"outputIndex":%d' % oi
