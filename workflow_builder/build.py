"""The example workflows, each described once here and written in both formats:
``workflows/<name>.json`` (the front end's UI format: ComfyUI lists the files of a plugin's
``workflows`` folder as templates, as it does ``example_workflows``; they can also be dragged onto the
canvas) and ``workflows/api/<name>.json`` (API format: ``POST /prompt``).  Each opens with a note
saying what it does, which model files it needs and where they go.

Run from the repository root after changing a node's inputs: ``python3 tests/node_info.py`` (our
nodes' definitions into ``plugin_nodes.json``), then ``python3 -m workflow_builder.build`` (``--check``
only reports files that are out of date).  It needs nothing outside the repository, and neither
ComfyUI nor a stand-in for it: node definitions are ``/object_info`` entries, ComfyUI's core nodes'
in ``core_nodes.json`` (those the workflows use, as ComfyUI 0.3.64 reports them; a test checks them
against the whole ``/object_info`` in ``tests/data/comfyui``) and ours in ``plugin_nodes.json`` (a
test checks it against the nodes' schemas); the model files the notes name come from the library's registry of official files.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from sadtalker_core.official_files import DETECTOR_FILES, gigabytes, sadtalker_files

from .graph import Graph, Node, catalog

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORE_NODES = HERE / "core_nodes.json"
PLUGIN_NODES = HERE / "plugin_nodes.json"
FOLDER = ROOT / "workflows"


def core_nodes() -> dict[str, dict]:
    """The vendored ``/object_info`` entries of the ComfyUI core nodes the workflows use."""
    return json.loads(CORE_NODES.read_text())


def _plugin() -> dict:
    return json.loads(PLUGIN_NODES.read_text())


def plugin_nodes() -> dict[str, dict]:
    """Our nodes' ``/object_info`` entries (``tests/node_info.py`` writes them)."""
    return _plugin()["nodes"]


#: the example inputs the plugin puts into ComfyUI's input folder (nodes/comfy.py)
PORTRAIT, SPEECH = (_plugin()["example_inputs"][name] for name in ("portrait", "speech"))
REFERENCE_VIDEO = "reference.mp4"

#: the official files a 256 px render needs, as the notes name them, and their download size
FILES_256 = ", ".join(f"`{name}`" for name in sadtalker_files((256,)))
SIZE_256 = gigabytes(sadtalker_files((256,)))
DETECTOR = ", ".join(f"`{name}`" for name in DETECTOR_FILES)

MODELS_NOTE = f"""**Model files**: in `ComfyUI/models/sadtalker/`, {FILES_256} ({SIZE_256}). Missing? Open the \
*download_models* template and run it once (or add **Download SadTalker models**, SadTalker/loaders). \
Optional: {DETECTOR} in `models/facedetection` (the official face detector; without them dlib's is used)."""
INPUTS_NOTE = f"""**Inputs**: `{PORTRAIT}` and `{SPEECH}` are the plugin's examples, put into \
`ComfyUI/input` when ComfyUI starts; pick your own in the loaders."""
CPU_NOTE = """On a CPU a frame takes seconds to render (25 frames per second of speech): try a short \
clip first. The video goes to `ComfyUI/output/sadtalker/`."""


def _note(title: str, what: str, *more: str) -> str:
    return "\n\n".join((f"## {title}", what, *more))


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
    """Create Video from ``frames`` with ``render``'s fps and audio outputs -> Save Video."""
    video = g.add("CreateVideo", column, 1, images=frames, fps=render["fps"], audio=render["audio"])
    g.add("SaveVideo", column + 1, 1, video=video[0], filename_prefix=f"sadtalker/{prefix}")


def _inputs(g: Graph) -> tuple[Node, Node, Node]:
    models = g.add("SadTalkerLoadModels", 0, 0)
    image = g.add("LoadImage", 0, 1, image=PORTRAIT)
    audio = g.add("LoadAudio", 0, 2, audio=SPEECH)
    return models, image, audio


def portrait_speech(g: Graph) -> None:
    """A portrait and a speech recording -> a talking-head mp4 (crop, ExpNet, PoseVAE, render)."""
    g.explain(_note(
        "SadTalker: a portrait and speech make a talking-head video",
        "The plain SadTalker run: **Load Image** (a portrait) and **Load Audio** (speech) → **Extract 3DMM** "
        "(finds and crops the face; the crop is previewed) → **ExpNet** (lips, blinks) and **PoseVAE** (head "
        "motion) → **Render** → Create Video → Save Video.", INPUTS_NOTE, MODELS_NOTE, CPU_NOTE))
    models, image, audio = _inputs(g)
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="crop")
    g.add("PreviewImage", 2, 0, images=face["crop"])
    pose = g.add("SadTalkerPoseVAE", 2, 2, models=models[0], face=face["face"], audio=audio[0], seed=0)
    _talking_head(g, models, face, audio, pose, 2, "portrait")


def full_body_enhanced(g: Graph) -> None:
    """A full-body photo: the face is rendered with a still head, restored with GFPGAN and pasted
    back into the whole picture (the official --preprocess full --still --enhancer gfpgan)."""
    g.explain(_note(
        "SadTalker: a whole photo with a talking face, enhanced",
        "For a photo where the face is small (a person seen from further away): **Extract 3DMM** with "
        "preprocess *full* → ExpNet and **Still pose** (a still head, as the official recommendation for whole "
        "pictures) → Render → **Paste back** into the whole photo → **Face enhance** (GFPGAN, as the official "
        "--enhancer: every face of the frames restored, the video twice the size) → Create Video → Save Video.",
        INPUTS_NOTE + " The example portrait stands in for such a photo: pick one of yours in Load Image.",
        MODELS_NOTE, "**Face enhancer**: `GFPGANv1.4.pth` (0.3 GB) in `ComfyUI/models/facerestore_models/`; "
        "the download_models template fetches it with face_enhancer set to GFPGANv1.4.pth. Face enhance also "
        "needs the face detector's `detection_Resnet50_Final.pth` in `ComfyUI/models/facedetection/` (and "
        "`parsing_parsenet.pth` there for the official paste mask).", CPU_NOTE))
    models, image, audio = _inputs(g)
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="full")
    pose = g.add("SadTalkerStillPose", 2, 2, face=face["face"])
    expression = g.add("SadTalkerExpNet", 2, 1, models=models[0], face=face["face"], audio=audio[0], seed=0)
    render = g.add("SadTalkerRender", 3, 1, models=models[0], face=face["face"], expression=expression[0],
                   pose=pose[0], audio=audio[0])
    enhancer = g.add("SadTalkerLoadFaceEnhancer", 3, 0, model_name="GFPGANv1.4.pth")
    pasted = g.add("SadTalkerPasteBack", 4, 0, frames=render["frames"], face=face["face"], original=image[0])
    enhanced = g.add("SadTalkerFaceEnhance", 5, 0, frames=pasted[0], enhancer=enhancer[0])
    _video(g, enhanced[0], render, 6, "full_body")


def reference_video(g: Graph) -> None:
    """Head pose and blinks taken from a reference video (the official --ref_pose / --ref_eyeblink);
    the motion is drawn (Preview motion) and saved to a file."""
    g.explain(_note(
        "SadTalker: head motion and blinks from a reference video",
        "**Load Video** → a second **Extract 3DMM** on the video (decoded there frame by frame, and only as many "
        "frames as the speech needs: its audio input is connected) → the video's coefficients drive ExpNet's blinks and "
        "**Pose from reference video** → **Preview motion** draws the head angles, mouth and blinks before you "
        "render → Render → Create Video → Save Video; **Save motion** keeps the motion as a file.",
        f"**Reference video**: none ships with the plugin. Upload a short clip of one talking face (a few "
        f"seconds; the head movement you want) with Load Video's upload button, or copy it into `ComfyUI/input` "
        f"as `{REFERENCE_VIDEO}` and press R. " + INPUTS_NOTE.removeprefix("**Inputs**: "),
        MODELS_NOTE, CPU_NOTE), height=340)
    models, image, audio = _inputs(g)
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="crop")
    video = g.add("LoadVideo", 0, 3, file=REFERENCE_VIDEO)
    reference = g.add("SadTalkerExtract3DMM", 2, 3, models=models[0], video=video[0], audio=audio[0])
    expression = g.add("SadTalkerExpNet", 3, 1, models=models[0], face=face["face"], audio=audio[0], seed=0,
                       blink_reference=reference["coefficients"])
    pose = g.add("SadTalkerPoseFromReference", 3, 2, face=face["face"], coefficients=reference["coefficients"])
    g.add("SadTalkerPreviewMotion", 4, 3, pose=pose[0], expression=expression[0], face=face["face"],
          label="pose and blinks from the reference video")
    g.add("SadTalkerSaveMotion", 5, 3, expression=expression[0], pose=pose[0],
          filename_prefix="sadtalker/reference_motion")
    _talking_head(g, models, face, audio, pose, 3, "reference", expression)


def dub_video(g: Graph) -> None:
    """A talking video lip-synced to new speech: the same video, its mouth following the speech."""
    g.explain(_note(
        "SadTalker: dub a talking video with new speech",
        "**Load Video** (a video of one talking face) and **Load Audio** (the new speech) → **Dub video**: every "
        "frame keeps its own head motion, blinks and background, and only the face's expression follows the "
        "speech; frames without a face pass through → Create Video (the video's frame rate, the speech as its "
        "sound) → Save Video. Longer speech than video: the video plays forward and back (length: pingpong).",
        f"**Video**: none ships with the plugin. Upload a clip of one talking face with Load Video's upload "
        f"button, or copy it into `ComfyUI/input` as `{REFERENCE_VIDEO}` and press R. **Speech**: `{SPEECH}`, the "
        "plugin's example, put into `ComfyUI/input` when ComfyUI starts; pick your own in Load Audio.",
        MODELS_NOTE, CPU_NOTE + " Dubbing also finds the face and its 3DMM in every frame it uses."), height=300)
    models = g.add("SadTalkerLoadModels", 0, 0)
    video = g.add("LoadVideo", 0, 1, file=REFERENCE_VIDEO)
    audio = g.add("LoadAudio", 0, 2, audio=SPEECH)
    dubbed = g.add("SadTalkerDubVideo", 1, 1, models=models[0], video=video[0], audio=audio[0])
    _video(g, dubbed["frames"], dubbed, 2, "dub")


def generated_portrait(g: Graph) -> None:
    """A Stable Diffusion 1.5 portrait (text -> image) made to talk."""
    g.explain(_note(
        "SadTalker: a generated portrait that talks",
        "**Load Checkpoint** (Stable Diffusion 1.5) → two prompts → KSampler → VAE Decode: a portrait looking "
        "straight at the camera → Extract 3DMM → ExpNet and PoseVAE → Render → Create Video → Save Video.",
        "**Stable Diffusion**: `v1-5-pruned-emaonly-fp16.safetensors` in `ComfyUI/models/checkpoints/` (or any "
        f"SD 1.5 checkpoint: pick it in Load Checkpoint). **Speech**: `{SPEECH}`, the plugin's example, put into "
        "`ComfyUI/input` when ComfyUI starts; pick your own in Load Audio.", MODELS_NOTE, CPU_NOTE))
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
    audio = g.add("LoadAudio", 3, 2, audio=SPEECH)
    face = g.add("SadTalkerExtract3DMM", 4, 0, models=models[0], image=picture[0], preprocess="crop")
    pose = g.add("SadTalkerPoseVAE", 5, 2, models=models[0], face=face["face"], audio=audio[0], seed=0)
    _talking_head(g, models, face, audio, pose, 5, "generated")


def free_view(g: Graph) -> None:
    """PoseVAE's head motion with the camera turned by yaw / pitch keyframes (the official
    --input_yaw / --input_pitch), drawn by Preview motion before the render."""
    g.explain(_note(
        "SadTalker: free-view camera keyframes",
        "Portrait and speech → Extract 3DMM → **PoseVAE** → **Free-view keyframes** (yaw -20, 30, 10 and pitch "
        "0, 10, -5 degrees, spread over the clip, replace the rendered head angles) → **Preview motion** draws "
        "PoseVAE's angles and the keyframes (dashed), the mouth and blinks, so you see the motion before a "
        "render → Render with ExpNet's expression → Create Video → Save Video.", INPUTS_NOTE, MODELS_NOTE,
        CPU_NOTE))
    models, image, audio = _inputs(g)
    face = g.add("SadTalkerExtract3DMM", 1, 0, models=models[0], image=image[0], preprocess="crop")
    generated = g.add("SadTalkerPoseVAE", 2, 2, models=models[0], face=face["face"], audio=audio[0], seed=0)
    pose = g.add("SadTalkerFreeView", 3, 2, pose=generated[0], yaw="-20, 30, 10", pitch="0, 10, -5", roll="")
    expression = g.add("SadTalkerExpNet", 3, 1, models=models[0], face=face["face"], audio=audio[0], seed=0)
    g.add("SadTalkerPreviewMotion", 4, 3, pose=pose[0], expression=expression[0], face=face["face"],
          label="PoseVAE + free-view keyframes")
    _talking_head(g, models, face, audio, pose, 3, "free_view", expression)


def download_models(g: Graph) -> None:
    """The official model files fetched into ComfyUI's model folders (run once, before the others)."""
    g.explain(_note(
        "SadTalker: download the model files (run once)",
        f"Press **Run**: **Download SadTalker models** fetches the official files from their release pages into "
        f"`ComfyUI/models/sadtalker/`: {FILES_256} ({SIZE_256}; size 512 takes `SadTalker_V0.0.2_512.safetensors`), "
        f"and, with face_detector on, the official face detector ({DETECTOR}) into `models/facedetection/`; "
        "face_enhancer adds a face restoration model "
        "(`models/facerestore_models/`). Every file is checked by sha256; an interrupted or cancelled download "
        "resumes on the next run; files already there are checked, not fetched again. Nothing is downloaded "
        "until you run it.", "Then open the other SadTalker templates (portrait_speech first)."), height=240)
    g.add("SadTalkerDownloadModels", 0, 0)


WORKFLOWS: dict[str, Callable[[Graph], None]] = {
    f.__name__: f for f in (download_models, portrait_speech, full_body_enhanced, reference_video,
                            dub_video, generated_portrait, free_view)
}


def build() -> dict[Path, str]:
    """File path -> JSON text of every workflow, both formats."""
    definitions = catalog(core_nodes(), plugin_nodes())
    files = {}
    for name, describe in WORKFLOWS.items():
        graph = Graph(definitions)
        describe(graph)
        files[FOLDER / f"{name}.json"] = json.dumps(graph.ui(), indent=1) + "\n"
        files[FOLDER / "api" / f"{name}.json"] = json.dumps(graph.api(), indent=1) + "\n"
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
