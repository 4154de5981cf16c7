"""The serving path of the emulator: asset JSON text straight from the columns.

`render.Renderer.page` builds the asset dicts and is the readable specification;
`FastRenderer.page_json` writes the very same JSON bytes (tested byte for byte against
`orjson.dumps(Renderer.page(...))` in tests/emulator/test_render.py) about twice as fast,
column-wise from precomputed per-row ASCII tables and small tables of JSON pieces, without
building a dict. Split from `render.py` so that each module has one reason to change.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from .generator import Columns
from .ids import _b62_into
from .json_pieces import (
    _CAPTIONS,
    _CHUNK,
    _D2,
    _D3,
    _D4,
    _DAY_MS,
    _DAYS,
    _EDITED,
    _GUIDANCE,
    _HIDDEN,
    _KC_3D,
    _KEY_PAIR,
    _KIND_CODES,
    _N_WORDS,
    _NEG_JSON,
    _NO_EDITS,
    _NSFW,
    _ORIGINAL_URL,
    _PRIV_JSON,
    _ROW_WIDTH,
    _SCHED_JSON,
    _SHAPE_FLAVOUR,
    _SHAPE_HEAD,
    _SHAPE_META,
    _SHAPE_PROPS,
    _SHAPE_PROPS_BYTES,
    _SHAPE_UPSCALE,
    _STAMP,
    _STATUS_JSON,
    _STEMS,
    _TC_KIND,
    _TC_NMIME,
    _THUMB_URL,
    _URL_ORIGINAL,
    _URL_TRANSFORM,
    _assemble,
    _decimal,
    _expires,
    _Ids,
    _js,
    _layout,
    _Memo,
    _rows,
    _rows_text,
    _small_ids,
    _versioned,
)
from .render import (
    _EDIT_BY_KIND,
    _FIELD_MASKS,
    _FIELD_SHIFTS,
    _PROMPT_SHIFTS,
    Codecs,
    Renderer,
    _bits,
    mix,
)
from .vocab import (
    TAGS,
    WORDS,
)


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
            _assemble(
                n,
                [
                    b',"ownerId":"',
                    owner,
                    b'","authorId":"',
                    row[:, 172:194],
                    b'","createdAt":"',
                    row[:, 22:46],
                    b'","updatedAt":"',
                    row[:, 46:70],
                    b'"',
                ],
            ),
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
            _assemble(
                n,
                [
                    b',"parentId":"asset_',
                    lineage[:n],
                    b'","rootParentId":"asset_',
                    lineage[n:],
                    b'"',
                ],
                has_parent,
            ),
            origin,
            _assemble(n, [b',"parentJobId":"job_', thumb, b'"'], has_parent & ~has_inference),
            inferences,
            thumbs,
            repeat(b"}", n),  # end of metadata
            descriptions,
            list(map(_NSFW.__getitem__, (nsfw * (1 + (nsfw_val == 0))).tolist())),
            thumbs,
            frames,
            list(
                map(
                    _HIDDEN.__getitem__,
                    ((hidden == 0) * (1 + (h & np.uint64(1)).astype(np.int64))).tolist(),
                )
            ),
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
