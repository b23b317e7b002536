"""Inside ComfyUI the loaded networks are ComfyUI's to move: the loaders hand them to its model
management, and every node that runs a network brings them onto the device through it first.
ComfyUI's ``comfy.model_management`` / ``comfy.model_patcher`` are stood in for here by
recorders that behave as ComfyUI 0.3.64's do for the calls the plugin makes."""
from __future__ import annotations

import io
import types

import pytest
import torch
from comfyui_sadtalker.nodes import comfy
from comfyui_sadtalker.nodes import models as loaders
from comfyui_sadtalker.nodes import post as post_nodes
from comfyui_sadtalker.nodes.face import Extract3DMM
from comfyui_sadtalker.nodes.motion import ExpNetNode, PoseVAENode
from comfyui_sadtalker.nodes.post import FaceEnhance
from comfyui_sadtalker.nodes.render import DubVideo, Render
from talking_video import LoadedVideo, talking_video_file
from torch import nn

CPU = torch.device("cpu")


class ModelPatcher:
    """ComfyUI's ModelPatcher as far as the plugin uses it: the model, its two devices."""

    def __init__(self, model: nn.Module, load_device: torch.device, offload_device: torch.device, size: int = 0):
        self.model, self.load_device, self.offload_device = model, load_device, offload_device
        if getattr(model, "device", None) is None:
            model.device = offload_device


class ComfyModels:
    """The stand-in modules, recording every request: ``loads`` holds (patchers, force_full_load)."""

    def __init__(self) -> None:
        self.loads: list[tuple[list[ModelPatcher], bool]] = []
        self.events: list[str] = []
        self.model_management = types.SimpleNamespace(
            get_torch_device=lambda: CPU, unet_offload_device=lambda: CPU, load_models_gpu=self.load_models_gpu,
            free_memory=lambda num_bytes, device: None, soft_empty_cache=lambda: None,
            throw_exception_if_processing_interrupted=lambda: None)
        self.model_patcher = types.SimpleNamespace(ModelPatcher=ModelPatcher)

    def load_models_gpu(self, models: list[ModelPatcher], memory_required: int = 0, force_patch_weights: bool = False,
                        minimum_memory_required: int | None = None, force_full_load: bool = False) -> None:
        """Moves every patcher's model onto its load device, as ComfyUI does."""
        self.loads.append((list(models), force_full_load))
        self.events.append("load")
        for patcher in models:
            patcher.model.to(patcher.load_device)
            patcher.model.device = patcher.load_device

    def patcher_of(self, value: object) -> ModelPatcher:
        return comfy._patchers[id(value)]

    def runs(self) -> list[str]:
        """:attr:`events` with the repeats in a row (one per layer) told once."""
        return [event for i, event in enumerate(self.events) if self.events[i - 1:i] != [event]]

    def record_runs(self, network: nn.Module, name: str) -> None:
        """Note ``name`` in :attr:`events` whenever ``network`` or a layer of it runs (some are run
        through methods other than ``forward``)."""
        for layer in network.modules():
            layer.register_forward_pre_hook(lambda module, args: self.events.append(name))


@pytest.fixture()
def comfy_models(monkeypatch, comfy_root) -> ComfyModels:
    """The stand-in ComfyUI, with the loaders' caches emptied before and after (a set loaded
    without ComfyUI has no patcher)."""
    fake = ComfyModels()
    monkeypatch.setattr(comfy, "model_management", fake.model_management)
    monkeypatch.setattr(comfy, "model_patcher", fake.model_patcher)
    loaders._load.cache_clear()
    loaders._load_enhancer.cache_clear()
    yield fake
    loaders._load.cache_clear()
    loaders._load_enhancer.cache_clear()


class Loaded:
    """A loaded value holding networks (as a model bundle or a face enhancer is)."""


def run(node_class, **inputs) -> tuple:
    return node_class.execute(**inputs).args


def test_the_loaders_hand_every_network_to_comfyui(comfy_models, gfpgan_name):
    (models,) = run(loaders.LoadSadTalkerModels, size="256", device="auto", precision="exact", face_detector="auto")
    patcher = comfy_models.patcher_of(models)
    assert {name: id(net) for name, net in patcher.model.items()} == {
        name: id(net) for name, net in models.networks().items()}
    assert {"recon", "expnet", "posevae", "kp_detector", "generator", "mapping_face"} <= set(patcher.model)
    assert patcher.load_device == models.device == CPU
    (enhancer,) = run(loaders.LoadFaceEnhancer, model_name=gfpgan_name, device="cpu", precision="exact")
    assert list(comfy_models.patcher_of(enhancer).model.values()) == [enhancer.model]
    assert comfy_models.loads == []  # loading is not running: nothing is brought onto the device yet


def test_networks_wait_on_the_offload_device_and_come_back_to_the_gpu(comfy_models):
    """On a GPU, the load device is the GPU and the networks move to ComfyUI's offload device."""
    offload = torch.device("meta")  # a device this CPU-only test can see the networks move to
    comfy_models.model_management.unet_offload_device = lambda: offload
    value, net = Loaded(), nn.Linear(2, 2)
    comfy.manage_models(value, {"net": net}, torch.device("cuda"))
    patcher = comfy_models.patcher_of(value)
    assert (patcher.load_device, patcher.offload_device) == (torch.device("cuda"), offload)
    assert net.weight.device == offload and patcher.model.device == offload


def test_each_node_brings_its_networks_onto_the_device_before_running_them(comfy_models, portrait, short_speech,
                                                                          gfpgan_name):
    (models,) = run(loaders.LoadSadTalkerModels, size="256", device="cpu", precision="exact", face_detector="auto")
    patcher = comfy_models.patcher_of(models)
    for name in ("recon", "expnet", "posevae", "generator"):
        comfy_models.record_runs(patcher.model[name], name)

    face, _, _ = run(Extract3DMM, models=models, image=portrait, preprocess="crop", face_index=0)
    (expression,) = run(ExpNetNode, models=models, face=face, audio=short_speech, expression_scale=1.0, blink="off",
                        seed=0)
    (pose,) = run(PoseVAENode, models=models, face=face, audio=short_speech, pose_style=0, head_motion_scale=1.0,
                  seed=0)
    frames = run(Render, models=models, face=face, expression=expression, pose=pose, batch_size=2, fps=25)[0]
    assert frames.shape == (2, 256, 256, 3)
    assert comfy_models.loads == [([patcher], True)] * 4
    assert comfy_models.runs() == ["load", "recon", "load", "expnet", "load", "posevae", "load", "generator"]

    (enhancer,) = run(loaders.LoadFaceEnhancer, model_name=gfpgan_name, device="cpu", precision="exact")
    comfy_models.record_runs(enhancer.model, "enhancer")
    (restored,) = run(FaceEnhance, frames=frames[:1, :64, :64], enhancer=enhancer, mode="crop", upscale=2, strength=1.0,
                      codeformer_fidelity=0.5, batch_size=1)
    assert restored.shape == (1, 64, 64, 3)
    assert comfy_models.loads[-1] == ([comfy_models.patcher_of(enhancer)], True)
    assert comfy_models.runs()[-2:] == ["load", "enhancer"]


def test_dub_video_brings_the_networks_onto_the_device_before_the_first_3dmm(comfy_models, short_speech, tmp_path):
    (models,) = run(loaders.LoadSadTalkerModels, size="256", device="cpu", precision="exact", face_detector="auto")
    patcher = comfy_models.patcher_of(models)
    for name in ("recon", "expnet", "generator"):
        comfy_models.record_runs(patcher.model[name], name)
    video = LoadedVideo(io.BytesIO(talking_video_file(tmp_path / "talking.mp4", 2).read_bytes()))
    frames = run(DubVideo, models=models, video=video, audio=short_speech, length="pingpong", preprocess="full",
                 paste="feather", expression_scale=1.0, batch_size=0, face_index=0, face_order="score",
                 crop_landmarks="mapped")[0]
    assert len(frames) == 2 and comfy_models.loads == [([patcher], True)]
    runs = comfy_models.runs()
    assert runs[0] == "load" and {"recon", "expnet", "generator"} <= set(runs[1:])


def test_official_face_enhance_hands_retinaface_and_the_parser_to_comfyui(comfy_models, gfpgan_name,
                                                                           fake_checkpoints, monkeypatch):
    (enhancer,) = run(loaders.LoadFaceEnhancer, model_name=gfpgan_name, device="cpu", precision="exact")
    monkeypatch.setattr(comfy, "model_folders", lambda kind: [fake_checkpoints.folder])
    fake_checkpoints.path("detection_Resnet50_Final.pth")
    fake_checkpoints.path("parsing_parsenet.pth")
    loaded = []
    load = post_nodes.load_restorer_networks
    monkeypatch.setattr(post_nodes, "load_restorer_networks", lambda *args: loaded.append(load(*args)) or loaded[-1])
    post_nodes._restorer_networks.cache_clear()
    run(FaceEnhance, frames=torch.rand(1, 40, 30, 3), enhancer=enhancer, mode="official", upscale=2, strength=1.0,
        codeformer_fidelity=0.5, batch_size=1)
    (networks,) = loaded
    patcher = comfy_models.patcher_of(networks)
    assert set(patcher.model) == {"retinaface", "parsenet"}
    assert comfy_models.loads == [([comfy_models.patcher_of(enhancer)], True), ([patcher], True)]
    post_nodes._restorer_networks.cache_clear()  # its networks belong to the stand-in ComfyUI
    post_nodes._restorer_networks.cache_clear()


def test_without_comfyui_the_networks_stay_where_they_were_loaded(bundle):
    """The node tests' bundle was loaded without ComfyUI: no patcher, and asking for the device changes nothing."""
    before = {name: next(net.parameters()).device for name, net in bundle.networks().items()}
    comfy.load_on_device(bundle)
    assert id(bundle) not in comfy._patchers
    assert {name: next(net.parameters()).device for name, net in bundle.networks().items()} == before == {
        name: CPU for name in before}
