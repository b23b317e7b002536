"""Every registered node declares itself the way ComfyUI reads it: inputs with types, defaults and
tooltips, outputs with names and tooltips, a function taking exactly its inputs, a description."""
from __future__ import annotations

import inspect

import pytest
from comfyui_sadtalker import nodes
from comfyui_sadtalker.nodes import types

OUR_TYPES = {types.MODELS, types.FACE, types.COEFFS, types.EXPRESSION, types.POSE, types.ENHANCER}
CORE_TYPES = {"IMAGE", "AUDIO", "INT", "FLOAT", "STRING", "BOOLEAN"}
NODE_NAMES = sorted(nodes.NODE_CLASS_MAPPINGS)


def test_the_whole_node_set_is_registered_with_display_names():
    assert set(nodes.NODE_DISPLAY_NAME_MAPPINGS) == set(nodes.NODE_CLASS_MAPPINGS)
    assert set(NODE_NAMES) == {
        "SadTalkerLoadModels", "SadTalkerLoadFaceEnhancer", "SadTalkerExtract3DMM", "SadTalkerExpNet",
        "SadTalkerPoseVAE", "SadTalkerStillPose", "SadTalkerPoseFromReference", "SadTalkerFreeView",
        "SadTalkerRender", "SadTalkerFaceEnhance", "SadTalkerPasteBack", "SadTalkerSaveMotion",
        "SadTalkerLoadMotion",
    }
    assert len(set(nodes.NODE_DISPLAY_NAME_MAPPINGS.values())) == len(NODE_NAMES)


def _inputs(node) -> dict[str, tuple]:
    spec = node.INPUT_TYPES()
    assert set(spec) <= {"required", "optional"} and spec["required"]
    return {**spec["required"], **spec.get("optional", {})}


@pytest.mark.parametrize("name", NODE_NAMES)
def test_inputs_are_well_formed(name, comfy_root):
    for input_name, declaration in _inputs(nodes.NODE_CLASS_MAPPINGS[name]).items():
        kind, options = declaration
        assert options.get("tooltip"), f"{name}.{input_name} has no tooltip"
        if isinstance(kind, list):  # a combo: its default is one of its choices
            assert all(isinstance(choice, str) for choice in kind)
            assert "default" not in options or options["default"] in kind
            continue
        assert kind in OUR_TYPES | CORE_TYPES, f"{name}.{input_name}: unknown type {kind}"
        if kind in ("INT", "FLOAT"):
            assert options["min"] <= options["default"] <= options["max"]
            assert isinstance(options["default"], int if kind == "INT" else float)
        if kind == "STRING":
            assert isinstance(options["default"], str)


@pytest.mark.parametrize("name", NODE_NAMES)
def test_outputs_are_named_and_explained(name):
    node = nodes.NODE_CLASS_MAPPINGS[name]
    assert isinstance(node.RETURN_TYPES, tuple)
    assert all(kind in OUR_TYPES | CORE_TYPES for kind in node.RETURN_TYPES)
    if node.RETURN_TYPES:
        assert len(node.RETURN_NAMES) == len(node.OUTPUT_TOOLTIPS) == len(node.RETURN_TYPES)
    else:
        assert node.OUTPUT_NODE is True  # a node with no outputs must be an output node to run at all
    assert node.DESCRIPTION and node.CATEGORY == "SadTalker"


@pytest.mark.parametrize("name", NODE_NAMES)
def test_the_function_takes_exactly_the_declared_inputs(name, comfy_root):
    node = nodes.NODE_CLASS_MAPPINGS[name]
    spec = node.INPUT_TYPES()
    parameters = inspect.signature(getattr(node, node.FUNCTION)).parameters
    declared = [p for p in parameters if p != "self"]
    assert set(declared) == set(spec["required"]) | set(spec.get("optional", {}))
    for optional in spec.get("optional", {}):
        assert parameters[optional].default is not inspect.Parameter.empty, f"{name}.{optional} needs a default"

