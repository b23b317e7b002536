"""Every node declares itself with ComfyUI's schema (``comfy_api.latest``) the way the front end
reads it (``/object_info``): stable ids, short display names, a ``SadTalker/<stage>`` category,
inputs with types, defaults and tooltips, named and explained outputs, an ``execute`` taking exactly
its inputs; and ComfyUI finds them all through ``comfy_entrypoint``."""
from __future__ import annotations

import asyncio
import inspect

import pytest
from comfy_api.latest import ComfyExtension
from comfyui_sadtalker import comfy_entrypoint, nodes
from comfyui_sadtalker.nodes import comfy, types

OUR_TYPES = {kind.io_type for kind in (types.Models, types.Face, types.Coeffs, types.Expression, types.Pose,
                                       types.Enhancer)}
CORE_TYPES = {"IMAGE", "AUDIO", "VIDEO", "INT", "FLOAT", "STRING", "BOOLEAN"}
#: the ids saved workflows refer to: they never change
NODE_IDS = {
    "SadTalkerLoadModels", "SadTalkerLoadFaceEnhancer", "SadTalkerExtract3DMM", "SadTalkerExpNet",
    "SadTalkerPoseVAE", "SadTalkerStillPose", "SadTalkerPoseFromReference", "SadTalkerFreeView",
    "SadTalkerRender", "SadTalkerDubVideo", "SadTalkerFaceEnhance", "SadTalkerPasteBack", "SadTalkerSaveMotion", "SadTalkerLoadMotion",
    "SadTalkerDownloadModels", "SadTalkerPreviewMotion",
}


def _info(node) -> dict:
    return node.GET_NODE_INFO_V1()


@pytest.fixture(scope="module")
def infos(comfy_root) -> dict[str, dict]:
    return {_info(node)["name"]: _info(node) for node in nodes.NODES}


def test_comfyui_gets_every_node_from_the_entrypoint_which_puts_the_example_inputs_in_place(comfy_root):
    examples = [comfy_root / "input" / name for name in comfy.EXAMPLE_INPUTS]
    for path in examples:
        path.unlink(missing_ok=True)
    extension = asyncio.run(comfy_entrypoint())
    assert isinstance(extension, ComfyExtension)
    listed = asyncio.run(extension.get_node_list())
    assert listed == nodes.NODES
    assert {node.GET_SCHEMA().node_id for node in listed} == NODE_IDS
    for path, asset in zip(examples, comfy.EXAMPLE_INPUTS.values()):
        assert path.read_bytes() == (comfy.ASSETS / asset).read_bytes()


def test_example_inputs_never_replace_a_file_of_that_name_and_a_read_only_folder_is_only_logged(tmp_path, monkeypatch,
                                                                                               caplog):
    monkeypatch.setenv("SADTALKER_COMFY_ROOT", str(tmp_path))
    (tmp_path / "input").mkdir()
    mine = tmp_path / "input" / comfy.EXAMPLE_PORTRAIT
    mine.write_bytes(b"the user's own picture")
    assert comfy.install_example_inputs() == [tmp_path / "input" / comfy.EXAMPLE_SPEECH]
    assert mine.read_bytes() == b"the user's own picture"
    assert comfy.install_example_inputs() == []  # already there: nothing copied again

    monkeypatch.setenv("SADTALKER_COMFY_ROOT", str(tmp_path / "elsewhere"))
    (tmp_path / "elsewhere").write_text("a file where the folder should be")
    assert comfy.install_example_inputs() == []
    assert "could not copy the example portrait.png" in caplog.text


def test_display_names_are_short_distinct_and_do_not_repeat_the_badge(infos):
    names = [info["display_name"] for info in infos.values()]
    assert len(set(names)) == len(names)
    for name in names:
        assert "SadTalker" not in name or name.endswith(" SadTalker models"), name  # only where it names the files
        assert len(name) <= 28, f"'{name}' is cut off in the node's title bar"


def test_categories_group_the_nodes_by_stage(infos):
    groups = {info["category"] for info in infos.values()}
    assert groups == {f"SadTalker/{group}" for group in types.GROUPS}
    assert infos["SadTalkerRender"]["category"] == "SadTalker/render"
    assert infos["SadTalkerPasteBack"]["category"] == "SadTalker/post"


@pytest.mark.parametrize("name", sorted(NODE_IDS))
def test_inputs_are_well_formed(name, infos):
    info = infos[name]
    assert set(info["input"]) <= {"required", "optional", "hidden"} and info["input"]["required"]
    for group in ("required", "optional"):
        assert info["input_order"].get(group, []) == list(info["input"].get(group, {}))
        for input_name, (kind, options) in info["input"].get(group, {}).items():
            assert options.get("tooltip"), f"{name}.{input_name} has no tooltip"
            if kind == "COMBO":  # a list of choices: its default is one of them
                assert all(isinstance(choice, str) for choice in options["options"])
                assert "default" not in options or options["default"] in options["options"]
                continue
            assert kind in OUR_TYPES | CORE_TYPES, f"{name}.{input_name}: unknown type {kind}"
            if kind in ("INT", "FLOAT"):
                assert options["min"] <= options["default"] <= options["max"]
                assert isinstance(options["default"], int if kind == "INT" else float)
            if kind == "STRING":
                assert isinstance(options["default"], str)


@pytest.mark.parametrize("name", sorted(NODE_IDS))
def test_outputs_are_named_and_explained(name, infos):
    info = infos[name]
    assert all(kind in OUR_TYPES | CORE_TYPES for kind in info["output"])
    assert len(info["output_name"]) == len(info["output_tooltips"]) == len(info["output"])
    assert all(info["output_tooltips"]) and all(n.islower() for n in info["output_name"])
    if not info["output"]:
        assert info["output_node"] is True  # a node with no outputs must be an output node to run at all
    assert info["description"]


@pytest.mark.parametrize("node", nodes.NODES, ids=lambda node: node.__name__)
def test_execute_takes_exactly_the_declared_inputs(node, comfy_root):
    schema = node.GET_SCHEMA()
    parameters = inspect.signature(node.execute).parameters
    assert list(parameters) == [i.id for i in schema.inputs]
    for declared in schema.inputs:
        has_default = parameters[declared.id].default is not inspect.Parameter.empty
        assert has_default == declared.optional, f"{node.__name__}.{declared.id}: optional inputs, and only they, " \
                                                 "need a default"


def test_free_view_changes_nothing_until_angles_are_written(infos):
    angles = infos["SadTalkerFreeView"]["input"]["required"]
    assert {angles[name][1]["default"] for name in ("yaw", "pitch", "roll")} == {""}
    assert all(angles[name][1]["placeholder"] for name in ("yaw", "pitch", "roll"))


def test_load_motion_offers_an_upload_and_lists_motion_files_only(comfy_root):
    for name in ("walk.safetensors", "talk.NPZ", "coeffs.mat", "notes.txt", "face.png"):
        (comfy_root / "input" / name).write_bytes(b"")
    try:
        kind, options = _info(nodes.motion.LoadMotion)["input"]["required"]["motion_file"]
        assert kind == "COMBO" and options["file_upload"] is True
        assert {"walk.safetensors", "talk.NPZ", "coeffs.mat"} <= set(options["options"])
        assert not {"notes.txt", "face.png"} & set(options["options"])
    finally:
        for name in ("walk.safetensors", "talk.NPZ", "coeffs.mat", "notes.txt", "face.png"):
            (comfy_root / "input" / name).unlink()


def test_frames_outputs_say_how_odd_sizes_are_made_even(infos):
    for name in ("SadTalkerRender", "SadTalkerFaceEnhance", "SadTalkerPasteBack"):
        assert types.EVEN_SIZE_NOTE in infos[name]["output_tooltips"][0]
