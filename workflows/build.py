"""The example workflows, each described once here and written in both formats:
``workflows/<name>.json`` (the front end's UI format: drag it into ComfyUI) and
``workflows/api/<name>.json`` (API format: ``POST /prompt``).

Run from the repository root after changing a node's inputs: ``python3 -m workflows.build``
(``--check`` only reports files that are out of date).  It needs nothing outside the repository:
our nodes' definitions come from their schemas, ComfyUI's core nodes' from ``core_nodes.json``, the
``/object_info`` entries of the core nodes the workflows use, as ComfyUI 0.3.64 reports them
(a test checks them against the whole ``/object_info`` in ``../shared/comfyui``).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from .graph import Graph, Node, catalog

HERE = Path(__file__).resolve().parent
CORE_NODES = HERE / "core_nodes.json"


def core_nodes() -> dict[str, dict]:
    """The vendored ``/object_info`` entries of the ComfyUI core nodes the workflows use."""
    return json.loads(CORE_NODES.read_text())


def _talking_head(g: Graph, models: Node, face: Node, audio: Node, pose: Node, column: int, prefix: str,
                  expression: Node | None = None) -> Node:
    """ExpNet (unless given) -> Render -> Create Video -> Save Video; returns the Render node."""
    expression = expression or g.add("SadTalkerExpNet", column, 1, models=models[0], face=face["face"],
                                     audio=audio[0], seed=0)
    render = g.add("SadTalkerRender", column + 1, 1, models=models[0], face=face["face"],
                   expression=expression[0], pose=pose[0], audio=audio[0])
    _video(g, render["frames"], render, column + 2, prefix)
    return render


def _video(g: Graph, frames, render: Node, column: int, prefix: str) -> None:
    video = g.add("CreateVideo", column, 1, images=frames, fps=render["fps"], audio=render["audio"])
    g.add("SaveVideo", column + 1, 1, video=video[0], filename_prefix=f"sadtalker/{prefix}")


def _inputs(g: Graph, picture: str = "portrait.png") -> tuple[Node, Node, Node]:
    models = g.add("SadTalkerLoadModels", 0, 0)
    image = g.add("LoadImage", 0, 1, image=picture)
    audio = g.add("LoadAudio", 0, 2, audio="speech.wav")
    return models, image, audio


def portrait_speech(g: Graph) -> None:
    """A portrait and a speech recording -> a talking-head mp4 (crop, ExpNet, PoseVAE, render)."""
    models, image, audio = _inputs(g)
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="crop")
    g.add("PreviewImage", 2, 0, images=face["crop"])
    pose = g.add("SadTalkerPoseVAE", 2, 2, models=models[0], face=face["face"], audio=audio[0], seed=0)
    _talking_head(g, models, face, audio, pose, 2, "portrait")


def full_body_enhanced(g: Graph) -> None:
    """A full-body photo: the face is rendered with a still head, restored with GFPGAN and pasted
    back into the whole picture (the official --preprocess full --still --enhancer gfpgan)."""
    models, image, audio = _inputs(g, "full_body.png")
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="full")
    pose = g.add("SadTalkerStillPose", 2, 2, face=face["face"])
    expression = g.add("SadTalkerExpNet", 2, 1, models=models[0], face=face["face"], audio=audio[0], seed=0)
    render = g.add("SadTalkerRender", 3, 1, models=models[0], face=face["face"], expression=expression[0],
                   pose=pose[0], audio=audio[0])
    enhancer = g.add("SadTalkerLoadFaceEnhancer", 3, 0, model_name="GFPGANv1.4.pth")
    enhanced = g.add("SadTalkerFaceEnhance", 4, 0, frames=render["frames"], enhancer=enhancer[0])
    pasted = g.add("SadTalkerPasteBack", 5, 0, frames=enhanced[0], face=face["face"], original=image[0])
    _video(g, pasted[0], render, 6, "full_body")


def reference_video(g: Graph) -> None:
    """Head pose and blinks taken from a reference video (the official --ref_pose / --ref_eyeblink);
    the motion is also saved to a file."""
    models, image, audio = _inputs(g)
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="crop")
    video = g.add("LoadVideo", 0, 3, file="reference.mp4")
    frames = g.add("GetVideoComponents", 1, 3, video=video[0])
    reference = g.add("SadTalkerExtract3DMM", 2, 3, models=models[0], image=frames["images"], fps=frames["fps"])
    expression = g.add("SadTalkerExpNet", 3, 1, models=models[0], face=face["face"], audio=audio[0], seed=0,
                       blink_reference=reference["coefficients"])
    pose = g.add("SadTalkerPoseFromReference", 3, 2, face=face["face"], coefficients=reference["coefficients"])
    g.add("SadTalkerSaveMotion", 4, 3, expression=expression[0], pose=pose[0],
          filename_prefix="sadtalker/reference_motion")
    _talking_head(g, models, face, audio, pose, 3, "reference", expression)


def generated_portrait(g: Graph) -> None:
    """A Stable Diffusion 1.5 portrait (text -> image) made to talk."""
    checkpoint = g.add("CheckpointLoaderSimple", 0, 3, ckpt_name="v1-5-pruned-emaonly-fp16.safetensors")
    positive = g.add("CLIPTextEncode", 1, 3, clip=checkpoint["CLIP"], text=(
        "portrait photo of a woman looking straight at the camera, neutral expression, mouth closed, "
        "plain background, soft light, sharp focus"))
    negative = g.add("CLIPTextEncode", 1, 4, clip=checkpoint["CLIP"],
                     text="profile, side view, hands, sunglasses, blurry, cartoon, text")
    latent = g.add("EmptyLatentImage", 1, 5, width=512, height=512, batch_size=1)
    sampled = g.add("KSampler", 2, 3, model=checkpoint["MODEL"], positive=positive[0], negative=negative[0],
                    latent_image=latent[0], seed=0, steps=25, cfg=7.0, sampler_name="dpmpp_2m", scheduler="karras")
    picture = g.add("VAEDecode", 3, 3, samples=sampled[0], vae=checkpoint["VAE"])
    models = g.add("SadTalkerLoadModels", 3, 0)
    audio = g.add("LoadAudio", 3, 2, audio="speech.wav")
    face = g.add("SadTalkerExtract3DMM", 4, 0, models=models[0], image=picture[0], preprocess="crop")
    pose = g.add("SadTalkerPoseVAE", 5, 2, models=models[0], face=face["face"], audio=audio[0], seed=0)
    _talking_head(g, models, face, audio, pose, 5, "generated")


def free_view(g: Graph) -> None:
    """PoseVAE's head motion with the camera turned by yaw / pitch keyframes (the official
    --input_yaw / --input_pitch)."""
    models, image, audio = _inputs(g)
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="crop")
    generated = g.add("SadTalkerPoseVAE", 2, 2, models=models[0], face=face["face"], audio=audio[0], seed=0)
    pose = g.add("SadTalkerFreeView", 3, 2, pose=generated[0], yaw="-20, 30, 10", pitch="0, 10, -5", roll="")
    _talking_head(g, models, face, audio, pose, 3, "free_view")


WORKFLOWS: dict[str, Callable[[Graph], None]] = {
    f.__name__: f for f in (portrait_speech, full_body_enhanced, reference_video, generated_portrait, free_view)
}


def build() -> dict[Path, str]:
    """File path -> JSON text of every workflow, both formats.  Model / file lists of our nodes
    are read with an empty stand-in ComfyUI folder, so the files do not depend on this machine."""
    with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {"SADTALKER_COMFY_ROOT": empty}):
        definitions = catalog(core_nodes())
    files = {}
    for name, describe in WORKFLOWS.items():
        graph = Graph(definitions)
        describe(graph)
        files[HERE / f"{name}.json"] = json.dumps(graph.ui(), indent=1) + "\n"
        files[HERE / "api" / f"{name}.json"] = json.dumps(graph.api(), indent=1) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ from the descriptions")
    args = parser.parse_args(argv)
    stale = {path: text for path, text in build().items() if not path.is_file() or path.read_text() != text}
    for path, text in stale.items():
        if args.check:
            print(f"out of date: {path}")
        else:
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
