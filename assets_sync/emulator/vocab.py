"""Fixed vocabularies of the emulated API: asset types, kinds, words, capabilities.

Kept apart from the generator so that the query layer (which validates and expands `type`
prefixes) and the renderer (which turns a type code into `kind`/`mimeType`) share one table:
a type code stored in a numpy column is an index into `TYPES`.
"""

from __future__ import annotations

#: Every asset type of the API document, in its order. Index = the code stored in the store.
TYPES: tuple[str, ...] = (
    "inference-txt2img", "inference-txt2img-ip-adapter", "inference-txt2img-texture",
    "inference-img2img", "inference-img2img-ip-adapter", "inference-img2img-texture",
    "inference-inpaint", "inference-inpaint-ip-adapter", "inference-reference",
    "inference-reference-texture", "inference-controlnet", "inference-controlnet-ip-adapter",
    "inference-controlnet-img2img", "inference-controlnet-reference",
    "inference-controlnet-inpaint", "inference-controlnet-inpaint-ip-adapter",
    "inference-controlnet-texture", "background-removal", "canvas", "canvas-export",
    "canvas-drawing", "detection", "patch", "pixelization", "upscale", "upscale-texture",
    "upscale-skybox", "vectorization", "segment", "segmentation-image", "segmentation-mask",
    "skybox-base-360", "skybox-hdri", "skybox-3d", "restyle", "reframe", "generative-fill",
    "texture", "texture-height", "texture-normal", "texture-smoothness", "texture-metallic",
    "texture-edge", "texture-ao", "texture-albedo", "image-prompt-editing", "unknown", "img23d",
    "txt23d", "3d23d", "3d23d-texture", "3d-texture", "3d-texture-mtl", "3d-texture-albedo",
    "3d-texture-normal", "3d-texture-roughness", "3d-texture-metallic", "img2video", "txt2audio",
    "audio2audio", "video2video", "video2img", "txt2img", "img2img", "txt2video", "uploaded",
    "uploaded-video", "uploaded-audio", "uploaded-3d", "uploaded-avatar", "upscale-video",
)  # fmt: skip
TYPE_CODE: dict[str, int] = {t: i for i, t in enumerate(TYPES)}

_VIDEO = {"img2video", "txt2video", "video2video", "uploaded-video", "upscale-video"}
_AUDIO = {"txt2audio", "audio2audio", "uploaded-audio"}
_THREE_D = {"img23d", "txt23d", "3d23d", "3d23d-texture", "skybox-3d", "uploaded-3d",
            "uploaded-avatar"}  # fmt: skip
_NO_INFERENCE = {
    "uploaded", "uploaded-video", "uploaded-audio", "uploaded-3d", "uploaded-avatar", "canvas",
    "canvas-drawing", "canvas-export", "unknown",
}  # fmt: skip
_INFERENCE_PLAIN = {"txt2img", "img2img", "txt2video", "img2video", "txt23d", "img23d",
                    "txt2audio", "audio2audio", "video2video", "3d23d", "restyle"}  # fmt: skip


def kind_of(type_name: str) -> str:
    """The `kind` the API reports for an asset type (image, image-hdr, video, 3d, audio...)."""
    if type_name in _VIDEO:
        return "video"
    if type_name in _AUDIO:
        return "audio"
    if type_name == "3d-texture-mtl":
        return "document"
    if type_name in _THREE_D:
        return "3d"
    if type_name == "skybox-hdri":
        return "image-hdr"
    return "image"


MIME_BY_KIND: dict[str, tuple[str, ...]] = {
    "image": ("image/png", "image/jpeg", "image/webp"),
    "image-hdr": ("image/vnd.radiance",),
    "video": ("video/mp4",),
    "audio": ("audio/mpeg", "audio/wav"),
    "3d": ("model/gltf-binary",),
    "document": ("text/plain",),
}
FORMAT_BY_MIME: dict[str, str] = {
    "image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/vnd.radiance": "hdr",
    "video/mp4": "mp4", "audio/mpeg": "mp3", "audio/wav": "wav", "model/gltf-binary": "glb",
    "text/plain": "txt",
}  # fmt: skip

#: Per type: the kind index into KINDS (precomputed so rendering does no string work).
KINDS: tuple[str, ...] = ("image", "image-hdr", "video", "3d", "audio", "document", "json", "text")
TYPE_KIND: tuple[str, ...] = tuple(kind_of(t) for t in TYPES)
TYPE_HAS_INFERENCE: tuple[bool, ...] = tuple(
    t.startswith("inference-") or t in _INFERENCE_PLAIN for t in TYPES
)
assert all(t not in _NO_INFERENCE for t, inf in zip(TYPES, TYPE_HAS_INFERENCE, strict=True) if inf)

#: Roots of lineage trees (weights are relative).
ROOT_TYPES: tuple[tuple[str, float], ...] = (
    ("uploaded", 30), ("inference-txt2img", 25), ("txt2img", 10),
    ("inference-txt2img-ip-adapter", 5), ("inference-controlnet", 5), ("inference-reference", 3),
    ("inference-txt2img-texture", 2), ("canvas", 3), ("uploaded-video", 2),
    ("uploaded-audio", 1), ("uploaded-3d", 1), ("uploaded-avatar", 0.5), ("txt2video", 2),
    ("txt2audio", 2), ("txt23d", 2), ("skybox-base-360", 2), ("unknown", 0.5),
)  # fmt: skip

#: Derived types by the parent's kind.
CHILD_TYPES: dict[str, tuple[tuple[str, float], ...]] = {
    "image": (
        ("upscale", 25), ("background-removal", 15), ("inference-img2img", 12), ("img2img", 5),
        ("inference-inpaint", 4), ("vectorization", 4), ("pixelization", 3), ("restyle", 4),
        ("reframe", 4), ("generative-fill", 4), ("segmentation-mask", 3), ("detection", 2),
        ("img23d", 3), ("img2video", 3), ("texture-normal", 2), ("texture-height", 1),
        ("canvas-export", 2), ("inference-controlnet-img2img", 2), ("upscale-skybox", 1),
        ("skybox-hdri", 1), ("patch", 1), ("image-prompt-editing", 2), ("segment", 1),
    ),
    "image-hdr": (("upscale-skybox", 1),),
    "video": (("upscale-video", 3), ("video2video", 2), ("video2img", 2)),
    "audio": (("audio2audio", 1),),
    "3d": (("3d23d", 2), ("3d-texture", 2), ("3d-texture-albedo", 1), ("3d23d-texture", 1)),
    "document": (("unknown", 1),),
}

EDIT_CAPABILITIES: tuple[str, ...] = (
    "DETECTION", "GENERATIVE_FILL", "PIXELATE", "PROMPT_EDITING", "REFINE", "REFRAME",
    "REMOVE_BACKGROUND", "SEGMENTATION", "UPSCALE", "UPSCALE_360", "VECTORIZATION",
)  # fmt: skip

TAGS: tuple[str, ...] = (
    "character", "landscape", "ui", "icon", "concept", "texture", "hero", "draft",
    "approved", "marketing", "sci-fi", "fantasy", "pixel-art", "portrait", "环境", "épique",
)  # fmt: skip
assert len(TAGS) <= 16  # stored as a uint16 bitmask

#: Prompt words; unicode on purpose (accents, CJK, emoji) so encodings are exercised.
WORDS: tuple[str, ...] = (
    "a", "castle", "on", "floating", "island", "at", "dusk", "cinematic", "lighting", "knight",
    "in", "ornate", "armor", "watercolor", "isometric", "tavern", "interior", "cozy", "neon",
    "cyberpunk", "alley", "rain", "low-poly", "fox", "spirit", "forest", "glowing", "runes",
    "pixel", "art", "sprite", "sheet", "potion", "bottle", "studio", "photo", "dragon", "egg",
    "crystal", "cave", "château", "médiéval", "brume", "forêt", "enchantée", "桜", "の", "森",
    "夜", "ドラゴン", "城", "🐉", "✨", "🌙", "Ünïcödé", "naïve", "café", "façade", "東京",
    "highly", "detailed", "8k", "octane", "render", "trending", "soft", "pastel", "palette",
)  # fmt: skip
NEGATIVE_WORDS: tuple[str, ...] = (
    "blurry", "lowres", "watermark", "text", "extra fingers", "deformed", "jpeg artifacts",
)  # fmt: skip
NAME_STEMS: tuple[str, ...] = (
    "hero", "bg", "sprite", "tile", "icon", "concept", "keyart", "scène", "草稿", "sheet",
)  # fmt: skip
SCHEDULERS: tuple[str, ...] = ("EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler",
                               "LCMScheduler")  # fmt: skip
