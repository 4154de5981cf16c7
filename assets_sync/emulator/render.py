"""Turn rows of `Columns` into API asset objects, on demand.

Everything not stored in a column is derived from the asset's 64-bit `salt` (and its `version`,
which mutations bump), so rendering the same row twice gives the same object and an update
visibly changes the URL signature, name, description and tags. Pages are rendered in one pass:
columns are gathered with numpy for the whole page, then one dict is built per asset.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from .generator import PRIVACIES, Columns
from .ids import Codec
from .vocab import (
    EDIT_CAPABILITIES,
    FORMAT_BY_MIME,
    MIME_BY_KIND,
    NAME_STEMS,
    NEGATIVE_WORDS,
    SCHEDULERS,
    TAGS,
    TYPE_HAS_INFERENCE,
    TYPE_KIND,
    TYPES,
    WORDS,
)

CDN = "https://cdn.cloud.scenario.com"
KEY_PAIR_ID = "K36FIAB9LE2OLR"
_M64 = 0xFFFFFFFFFFFFFFFF
_STATUS = ("error", "error", "pending", "pending", "success")  # 2% error, 2% pending
_SIZES = ((1024, 1024), (768, 1344), (1344, 768), (512, 512), (2048, 2048), (1536, 640))
_EDIT_BY_KIND = {"image": EDIT_CAPABILITIES, "image-hdr": ("UPSCALE_360",)}


def _mix(x: int) -> int:
    """splitmix64 finalizer: cheap, well-spread bits from any integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def tag_names(mask: int) -> list[str]:
    return [t for b, t in enumerate(TAGS) if mask >> b & 1]


class Codecs:
    """The id families of one seed."""

    def __init__(self, seed: int) -> None:
        self.asset = Codec("asset_", seed, "asset")
        self.project = Codec("proj_", seed, "project", tail=0)
        self.author = Codec("", seed, "author")
        self.inference = Codec("inf_", seed, "inference")
        self.model = Codec("model_", seed, "model", tail=0)
        self.collection = Codec("coll_", seed, "collection", tail=0)
        self.thumb = Codec("asset_", seed, "thumbnail")
        self.job = Codec("job_", seed, "job")


class Renderer:
    """Builds asset dicts for rows of a `Columns` (which the caller keeps locked)."""

    def __init__(self, codecs: Codecs, seed: int, embedding_dim: int) -> None:
        self.codecs = codecs
        self.seed_key = _mix(seed)
        self.embedding_dim = embedding_dim
        self._sign_key = hashlib.sha256(f"sign/{seed}".encode()).digest()
        self._projects: dict[int, str] = {}
        self._authors: dict[int, str] = {}
        self._models: dict[int, str] = {}
        self._collections: dict[int, str] = {}

    def _signed(self, path: str, salt: int, version: int, expires: int) -> str:
        """A CloudFront-style signed URL (canned policy): changes when the asset is updated."""
        sig = hashlib.blake2b(
            f"{path}|{salt}|{version}|{expires}".encode(), digest_size=36, key=self._sign_key
        ).digest()
        sig_text = base64.b64encode(sig).decode().replace("+", "-").replace("/", "~")
        return f"{CDN}{path}?Expires={expires}&Signature={sig_text}&Key-Pair-Id={KEY_PAIR_ID}"

    def _small(self, codec: Codec, cache: dict[int, str], index: int) -> str:
        """Ids of small families (projects, authors, models, collections) are memoized."""
        text = cache.get(index)
        if text is None:
            text = cache[index] = codec.encode(index)
        return text

    def prompt(self, inference: int) -> tuple[str, str | None, int]:
        """Prompt, negative prompt and seed of an inference (shared by its batch)."""
        h = _mix(inference ^ self.seed_key)
        words = []
        for _ in range(5 + h % 9):
            h = _mix(h)
            words.append(WORDS[h % len(WORDS)])
        negative = None if h & 1 else ", ".join(NEGATIVE_WORDS[: 2 + (h >> 3) % 5])
        return " ".join(words), negative, (h >> 11) % 4_294_967_295

    def page(self, cols: Columns, idx: Sequence[int] | np.ndarray, original: bool = False
             ) -> list[dict[str, Any]]:  # fmt: skip
        """Render rows `idx`, in that order. `original`: URLs of untransformed files."""
        ix = np.asarray(idx, dtype=np.int64)
        if len(ix) == 0:
            return []
        c = self.codecs
        created_iso = np.datetime_as_string(cols.created[ix].astype("datetime64[ms]"), unit="ms")
        updated_iso = np.datetime_as_string(cols.updated[ix].astype("datetime64[ms]"), unit="ms")
        parent, root, inference = cols.parent[ix], cols.root[ix], cols.inference[ix]
        rows = zip(
            ix.tolist(), c.asset.encode_keys_array(cols.idkey[ix]), c.thumb.encode_array(ix),
            c.asset.encode_array(parent), c.asset.encode_array(root),
            c.inference.encode_array(inference), cols.salt[ix].tolist(),
            cols.type_code[ix].tolist(), cols.project[ix].tolist(), cols.privacy[ix].tolist(),
            parent.tolist(), root.tolist(), inference.tolist(),
            cols.model[ix].tolist(), cols.author[ix].tolist(), cols.collection[ix].tolist(),
            cols.tags[ix].tolist(), cols.out_index[ix].tolist(), cols.version[ix].tolist(),
            created_iso.tolist(), updated_iso.tolist(), (cols.created[ix] // 1000).tolist(),
            strict=True,
        )  # fmt: skip
        out = []
        for (i, asset_id, thumb_id, parent_id, root_id, inference_id, s, tc, proj, priv, par,
             _root, inf, mdl, auth, coll, tags, oi, ver, cre, upd, cre_s) in rows:  # fmt: skip
            type_name = TYPES[tc]
            kind = TYPE_KIND[tc]
            mimes = MIME_BY_KIND[kind]
            mime = mimes[s % len(mimes)]
            fmt = FORMAT_BY_MIME[mime]
            width, height = _SIZES[(s >> 4) % len(_SIZES)]
            size = 40_000 + (s >> 8) % 6_000_000
            owner = self._small(c.project, self._projects, proj)
            h = _mix(s ^ ver)  # the bits that change with every update
            path = f"/assets{'' if original else '-transform'}/{owner}/{asset_id}"
            expires = cre_s + 30 * 86_400 * (1 + ver)
            status_roll = (s >> 24) % 100
            meta: dict[str, Any] = {"type": type_name, "kind": kind}
            props: dict[str, Any] = {"size": size}
            if kind in ("image", "image-hdr"):
                props.update(width=width, height=height, format=fmt)
                meta.update(width=width, height=height)
            elif kind in ("video", "audio"):
                props.update(duration=round(1 + (s >> 40) % 30000 / 1000, 3), format=fmt)
                if kind == "video":
                    props.update(width=width, height=height, frameRate=24 + 6 * (s >> 50 & 1))
            else:
                props["format"] = fmt
            if (s >> 30) & 7:
                stem = NAME_STEMS[(s >> 33) % len(NAME_STEMS)]
                meta["name"] = f"{stem}_{i % 10000:04d}" + (f" v{ver + 1}" if ver else "")
            meta["size"] = size
            if par >= 0:
                meta["parentId"] = parent_id
                meta["rootParentId"] = root_id
                if type_name.startswith("upscale") and s >> 36 & 1:
                    meta["originalAssetId"] = meta["rootParentId"]
                if inf < 0:
                    meta["parentJobId"] = "job_" + thumb_id[6:]
            if inf >= 0 and TYPE_HAS_INFERENCE[tc]:
                prompt, negative, seed = self.prompt(inf)
                meta["inferenceId"] = inference_id
                meta["modelId"] = (
                    self._small(c.model, self._models, mdl) if mdl >= 0 else "flux.1-dev"
                )
                meta["prompt"] = prompt
                if negative is not None:
                    meta["negativePrompt"] = negative
                meta["seed"] = str(seed) if seed & 1 else seed  # both forms exist in the wild
                meta["outputIndex"] = oi
                meta["numInferenceSteps"] = 20 + seed % 30
                meta["guidance"] = 3.5 + (seed >> 5) % 8 / 2
                meta["scheduler"] = SCHEDULERS[seed % len(SCHEDULERS)]
            asset: dict[str, Any] = {
                "id": asset_id,
                "url": self._signed(path, s, ver, expires),
                "mimeType": mime,
                "kind": kind,
                "source": type_name,
                "ownerId": owner,
                "authorId": self._small(c.author, self._authors, auth),
                "createdAt": cre + "Z",
                "updatedAt": upd + "Z",
                "privacy": PRIVACIES[priv],
                "tags": tag_names(tags),
                "collectionIds": (
                    [self._small(c.collection, self._collections, coll)] if coll >= 0 else []
                ),
                "status": _STATUS[min(status_roll, 4)],
                "editCapabilities": [
                    e for b, e in enumerate(_EDIT_BY_KIND.get(kind, ())) if s >> (44 + b) & 1
                ],
                "properties": props,
                "metadata": meta,
            }
            if (s >> 20) & 3 == 0 or ver:
                asset["description"] = f"Asset {i} revision {ver}" + (" — édité ✨" if ver else "")
            if (s >> 22) & 1:
                asset["nsfw"] = [] if (s >> 23) & 3 else ["suggestive"]
            if kind in ("video", "3d") or (s >> 52) & 3 == 0:
                thumb_url = self._signed(f"/thumbs/{thumb_id}", s, ver, expires)
                thumb = {"assetId": thumb_id, "url": thumb_url}
                asset["thumbnail"] = thumb
                meta["thumbnail"] = thumb
                if kind == "video":
                    asset["firstFrame"] = thumb
                    asset["lastFrame"] = {"assetId": thumb_id[:-1] + "L", "url": thumb_url}
                if kind == "3d":
                    asset["preview"] = thumb
            if (s >> 54) & 3 == 0:
                asset["isHidden"] = bool(h & 1)
            if (s >> 56) & 3 != 0:
                asset["originalFileUrl"] = self._signed(f"/assets/{owner}/{asset_id}", s, ver,
                                                        expires)  # fmt: skip
            if inf >= 0 and TYPE_HAS_INFERENCE[tc]:
                asset["outputIndex"] = oi
            if (s >> 58) & 7 == 0:
                caption = f"{WORDS[h % len(WORDS)]} {WORDS[(h >> 8) % len(WORDS)]}"
                asset["automaticCaptioning"] = caption
            if s % 50 == 0 and self.embedding_dim:
                vec = np.random.default_rng(s).standard_normal(self.embedding_dim)
                asset["embedding"] = np.round(vec, 6).tolist()
            out.append(asset)
        return out
