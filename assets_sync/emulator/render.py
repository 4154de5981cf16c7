"""Turn rows of `Columns` into API asset objects, on demand.

Everything not stored in a column is derived from the asset's 64-bit `salt` (and its `version`,
which mutations bump), so rendering the same row twice gives the same object and an update
visibly changes the URL signatures, name, description and tags. Rendering is the emulator's
hot path (a benchmark pulls a million assets), so everything that can be is computed for the
whole page at once with numpy (ids, signatures, prompts, dates) and the per-asset Python loop
only assembles dicts from prepared pieces.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from itertools import compress
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
_TC_NMIME = np.array([len(m) for _, _, m, _ in _TYPE_INFO], dtype=np.uint64)
_NO_EDITS = ("[]",) * 2048
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
_GUIDANCE = tuple(_js(3.5 + k / 2) for k in range(8))
_PRIV_JSON = tuple(f'","privacy":"{p}","tags":' for p in PRIVACIES)
#: By the salt's 7-bit status field (as `page` maps it: `_STATUS[min(field % 100, 4)]`).
_STATUS_JSON = tuple(
    f',"status":"{_STATUS[min(k % 100, 4)]}","editCapabilities":' for k in range(128)
)
_NEG_JSON = (*(f',"negativePrompt":"{s}"' for s in _NEGATIVES), "")


def _raw(text: str) -> str:
    """`text` as its UTF-8 bytes, one latin-1 character per byte.

    `page_json` assembles every asset in this form: the string stays one byte per character
    (no widening to 2 or 4 bytes per character when a prompt has an emoji), and
    `.encode("latin-1")` of the result is a plain copy that yields the UTF-8 JSON.
    """
    return text.encode().decode("latin-1")


_RAW_WORDS = tuple(_raw(w) for w in WORDS)
_RAW_STEMS = tuple(_raw(NAME_STEMS[k % len(NAME_STEMS)]) for k in range(256))  # by 8-bit field
_EDITED = _raw(' — édité ✨"')
_SCHED_JSON = tuple(f',"scheduler":"{s}"' for s in SCHEDULERS)


_DAY_MS = 86_400_000
_ROW_WIDTH = 156
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


class FastRenderer(Renderer):
    """`Renderer` plus `page_json`: the same assets as JSON text, without building dicts.

    The 22 id digits of every asset and inference are computed once for all rows (22 B per
    row, vectorized at start-up, extended when rows are added), so a page only gathers them.
    """

    def __init__(self, codecs: Codecs, seed: int, embedding_dim: int) -> None:
        super().__init__(codecs, seed, embedding_dim)
        self._tag_json: dict[int, str] = {}
        self._edit_json = [
            tuple(_js(list(_bits(_EDIT_BY_KIND.get(k, ()), m))) for m in range(2048))
            if k in _EDIT_BY_KIND else _NO_EDITS
            for k in _KIND_CODES
        ]  # fmt: skip
        self._durations: dict[int, str] = {}
        self._ids = {
            name: _Ids(getattr(codecs, name))
            for name in ("project", "team", "author", "model", "collection")
        }
        days = np.arange(_DAYS).astype("datetime64[D]")
        self._day_digits = np.frombuffer(
            "".join(np.datetime_as_string(days).tolist()).encode(), np.uint8
        ).reshape(_DAYS, 10)
        #: Per row, as ASCII: id digits (22), createdAt (24), updatedAt (24), and what depends
        #: on the version: thumbnail id digits (22), URL signatures (43 + 21).
        self._row_digits = np.empty((0, _ROW_WIDTH), dtype=np.uint8)
        #: Per inference: id digits (22), prompt word indices (13), prompt length in words.
        self._inference_digits = np.empty((0, 36), dtype=np.uint8)
        #: `,"embedding":[…]` of the rows that have one (their salt says so).
        self._embeddings: dict[int, str] = {}
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
                part[:, 70:] = _versioned(cols.salt[lo:hi], cols.version[lo:hi])
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

    def touch(self, cols: Columns, rows: npt.NDArray[np.int64]) -> None:
        """Rows whose `updated` and `version` changed (rows not prepared yet: see `prepare`)."""
        rows = rows[rows < len(self._row_digits)]
        self._row_digits[rows, 46:70] = self._stamp_digits(cols.updated[rows])
        self._row_digits[rows, 70:] = _versioned(cols.salt[rows], cols.version[rows])

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

    def _embedding(self, salt: int) -> str:
        vec = np.random.default_rng(salt).standard_normal(self.embedding_dim)
        return f',"embedding":{_js(np.round(vec, 6).tolist())}'

    def _duration(self, dur: int) -> str:
        text = self._durations.get(dur)
        if text is None:
            text = self._durations[dur] = _js(1 + dur % 30_000 / 1000)
        return text

    def page_json(self, cols: Columns, idx: Sequence[int] | npt.NDArray[np.int64],
                  original: bool = False) -> list[bytes]:  # fmt: skip
        """JSON of rows `idx`, in that order: exactly `orjson.dumps(page(...)[k])`."""
        ix = np.asarray(idx, dtype=np.int64)
        n = len(ix)
        if n == 0:
            return []
        if len(self._row_digits) < cols.n or len(self._inference_digits) < cols.n_inferences:
            self.prepare(cols)
        salt, version = cols.salt[ix], cols.version[ix]
        h = mix(salt ^ version.astype(np.uint64))
        parent, root, inference = cols.parent[ix], cols.root[ix], cols.inference[ix]
        fixed = _rows_text(self._row_digits[ix])  # id, dates, thumbnail id, signatures
        lineage = _rows_text(self._row_digits[np.maximum(np.concatenate([parent, root]), 0), :22])
        inf_table = self._inference_digits[np.maximum(inference, 0)]
        inference_ids = _rows_text(inf_table[:, :22])
        has_prompt = inference >= 0
        words = _RAW_WORDS
        prompts = [
            (" ".join([words[k] for k in w[:-1][: w[-1]]]), neg, seed)
            for w, (neg, seed) in zip(
                inf_table[has_prompt, 22:].tolist(),
                self._inference_params[inference[has_prompt]].tolist(), strict=True,
            )
        ]  # fmt: skip
        prompt_iter = iter(prompts)
        created = cols.created[ix]
        expires = (created // 1000 + 2_592_000 * (1 + version.astype(np.int64))).tolist()
        fields = (salt[:, None] >> _FIELD_SHIFTS) & _FIELD_MASKS
        tcode = cols.type_code[ix].astype(np.int64)
        shape = (tcode * 3 + (fields[:, 0] % _TC_NMIME[tcode]).astype(np.int64)) * 6 + (
            fields[:, 1] % np.uint64(6)).astype(np.int64)  # fmt: skip
        names = self._ids
        teams, owners, author_ids = names["team"], names["project"], names["author"]
        model_ids, collection_ids = names["model"], names["collection"]
        rows = zip(
            ix.tolist(), fixed, lineage[:n], lineage[n:], inference_ids,
            salt.tolist(), h.tolist(), fields.tolist(), shape.tolist(), _TC_KIND[tcode].tolist(),
            cols.project[ix].tolist(), cols.privacy[ix].tolist(), cols.foreign[ix].tolist(),
            parent.tolist(), inference.tolist(), cols.model[ix].tolist(),
            cols.author[ix].tolist(), cols.collection[ix].tolist(), cols.tags[ix].tolist(),
            cols.out_index[ix].tolist(), version.tolist(), expires, strict=True,
        )  # fmt: skip
        url_head = f"{CDN}/assets/" if original else f"{CDN}/assets-transform/"
        tag_json, edit_json, shapes = self._tag_json, self._edit_json, _SHAPES
        n_words = len(words)
        embedding_dim, embeddings = self.embedding_dim, self._embeddings
        durations = self._durations
        out = []
        for (i, fix, parent_id, root_id, inference_id, s, hv, fl, shp, kc, proj, priv, other_org,
             par, inf, mdl, auth, coll, tags, oi, ver, exp) in rows:  # fmt: skip
            (_, _, size, desc, nsfw, nsfw_val, status, named, stem, orig_id, dur,
             edit_mask, fps, thumbed, hidden, orig_url, caption, emb) = fl  # fmt: skip
            head, props, meta, flavour, upscale = shapes[shp]
            size += 40_000
            owner = teams[proj] if other_org else owners[proj]
            tail = f"{owner}/asset_{fix[:22]}?Expires={exp}&Signature={fix[92:135]}" \
                   f"&Key-Pair-Id={KEY_PAIR_ID}"  # fmt: skip
            if flavour >= 2:
                duration = durations.get(dur) or self._duration(dur)
                if flavour == 2:
                    props = f"{props}{duration},\"frameRate\":{30 if fps else 24}}}"
                else:
                    props = f',"duration":{duration}{props}'
            tags_text = tag_json.get(tags)
            if tags_text is None:
                tags_text = tag_json[tags] = _raw(_js(list(_bits(TAGS, tags))))
            collection = f'["{collection_ids[coll]}"]' if coll >= 0 else "[]"
            # The object is written in order as pieces, joined once (no growing strings).
            p = [
                f'{{"id":"asset_{fix[:22]}","url":"{url_head}{tail}",{head},"ownerId":"{owner}"'
                f',"authorId":"{author_ids[auth]}","createdAt":"{fix[22:46]}","updatedAt":"'
                f'{fix[46:70]}{_PRIV_JSON[priv]}{tags_text},"collectionIds":{collection}'
                f'{_STATUS_JSON[status]}{edit_json[kc][edit_mask]}'
                f',"properties":{{"size":{size}{props},"metadata":{meta}'
            ]
            if named:
                suffix = f" v{ver + 1}" if ver else ""
                p.append(f',"name":"{_RAW_STEMS[stem]}_{i % 10000:04d}{suffix}","size":{size}')
            else:
                p.append(f',"size":{size}')
            if par >= 0:
                p.append(f',"parentId":"asset_{parent_id}","rootParentId":"asset_{root_id}"')
                if orig_id and upscale:
                    p.append(f',"originalAssetId":"asset_{root_id}"')
                if inf < 0:
                    p.append(f',"parentJobId":"job_{fix[70:92]}"')
            if inf >= 0:
                prompt, negative, seed = next(prompt_iter)
                model = model_ids[mdl] if mdl >= 0 else "flux.1-dev"
                seed_text = f'"{seed}"' if seed & 1 else seed
                p.append(
                    f',"inferenceId":"inf_{inference_id}","modelId":"{model}","prompt":"{prompt}"'
                    f'{_NEG_JSON[negative]},"seed":{seed_text},"outputIndex":{oi}'
                    f',"numInferenceSteps":{20 + seed % 30},"guidance":'
                    f'{_GUIDANCE[(seed >> 5) % 8]}{_SCHED_JSON[seed % 3]}'
                )
            thumb = ""
            if thumbed == 0 or flavour == 2 or kc == _KC_3D:
                thumb_id = fix[70:92]
                thumb_tail = f"{CDN}/thumbs/{owner}/asset_{thumb_id}?Expires={exp}&Signature=" \
                             f"{fix[135:]}\"}}"  # fmt: skip
                thumb = f',"thumbnail":{{"assetId":"asset_{thumb_id}","url":"{thumb_tail}'
                p.append(thumb)
            p.append("}")  # end of metadata
            if desc == 0 or ver:
                p.append(f',"description":"Asset {i} revision {ver}{_EDITED if ver else chr(34)}')
            if nsfw:
                p.append(',"nsfw":[]' if nsfw_val else ',"nsfw":["suggestive"]')
            if thumb:
                p.append(thumb)
                if flavour == 2:
                    p.append(f',"firstFrame"{thumb[12:]},"lastFrame":{{"assetId":"asset_'
                             f'{thumb_id[:-1]}L","url":"{thumb_tail}')  # fmt: skip
                elif kc == _KC_3D:
                    p.append(f',"preview"{thumb[12:]}')
            if hidden == 0:
                p.append(',"isHidden":true' if hv & 1 else ',"isHidden":false')
            if orig_url:
                p.append(f',"originalFileUrl":"{CDN}/assets/{tail}"')
            if inf >= 0:
                p.append(f',"outputIndex":{oi}')
            if caption == 0:
                p.append(f',"automaticCaptioning":"{words[hv % n_words]} '
                         f'{words[(hv >> 8) % n_words]}"')  # fmt: skip
            if emb == 0 and embedding_dim:
                p.append(embeddings.get(i) or self._embedding(s))
            p.append("}")
            out.append("".join(p).encode("latin-1"))
        return out

