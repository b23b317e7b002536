"""The example workflows load in ComfyUI: every node type exists (ours, or a core node of ComfyUI
0.3.64's /object_info), every link joins an output to an input of the same type, required inputs
are connected, widget values fit their widgets, and the UI and API files describe the same graph.
The builder's vendored core node entries are ComfyUI 0.3.64's own (../shared/comfyui)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from paths import SHARED

from workflows import build
from workflows.graph import InputDef, NodeDef, catalog

WORKFLOWS = Path(build.__file__).parent
NAMES = sorted(build.WORKFLOWS)


@pytest.fixture(scope="module")
def definitions(tmp_path_factory) -> dict[str, NodeDef]:
    with pytest.MonkeyPatch.context() as patch:  # our file lists read from an empty ComfyUI folder
        patch.setenv("SADTALKER_COMFY_ROOT", str(tmp_path_factory.mktemp("empty_comfy")))
        return catalog(build.core_nodes())


def test_the_vendored_core_nodes_are_comfyui_0_3_64s_and_all_the_workflows_use():
    reported = json.loads((SHARED / "comfyui" / "object_info_core.json").read_text())
    vendored = build.core_nodes()
    assert vendored == {name: reported[name] for name in vendored}
    used = {node["class_type"] for name in NAMES for node in _load("api", f"{name}.json").values()}
    assert set(vendored) == {name for name in used if not name.startswith("SadTalker")}


def _load(*parts: str) -> dict:
    return json.loads(WORKFLOWS.joinpath(*parts).read_text())


def _check_widget(where: str, definition: InputDef, value) -> None:
    if definition.kind == "COMBO":
        if definition.choices:  # file lists (models, inputs) are empty in object_info: any name goes
            assert value in definition.choices, f"{where}: {value!r} is not one of {definition.choices}"
    elif definition.kind in ("INT", "FLOAT"):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), f"{where}: {value!r}"
        low, high = definition.options.get("min", value), definition.options.get("max", value)
        assert low <= value <= high, f"{where}: {value} outside {low}..{high}"
    elif definition.kind == "STRING":
        assert isinstance(value, str), f"{where}: {value!r}"


def test_the_five_workflows_are_there_in_both_formats():
    assert NAMES == ["free_view", "full_body_enhanced", "generated_portrait", "portrait_speech", "reference_video"]
    for name in NAMES:
        assert WORKFLOWS.joinpath(f"{name}.json").is_file() and WORKFLOWS.joinpath("api", f"{name}.json").is_file()


def test_the_files_are_what_build_writes():
    """Regenerate with ``python3 -m workflows.build`` after changing a node's inputs."""
    for path, text in build.build().items():
        assert path.read_text() == text, f"{path} is out of date"


@pytest.mark.parametrize("name", NAMES)
def test_ui_format_nodes_links_and_widgets_fit_the_definitions(name, definitions):
    workflow = _load(f"{name}.json")
    nodes = {node["id"]: node for node in workflow["nodes"]}
    assert workflow["last_node_id"] == max(nodes) and workflow["last_link_id"] == len(workflow["links"])
    for node in nodes.values():
        assert node["type"] in definitions, f"unknown node type {node['type']}"
    for link_id, source, source_slot, target, target_slot, kind in workflow["links"]:
        output = nodes[source]["outputs"][source_slot]
        slot = nodes[target]["inputs"][target_slot]
        assert link_id in output["links"] and slot["link"] == link_id
        assert output["type"] == slot["type"] == kind
        assert definitions[nodes[source]["type"]].outputs[source_slot][1] == kind
        assert definitions[nodes[target]["type"]].input(slot["name"]).kind == kind
    for node in nodes.values():
        definition = definitions[node["type"]]
        linked = {slot["name"] for slot in node["inputs"] if slot["link"] is not None}
        widgets = [i for i in definition.inputs if i.is_widget]
        expected_count = sum(1 + len(i.extras()) for i in widgets)
        assert len(node["widgets_values"]) == expected_count, f"{node['type']}: widget values"
        values = iter(node["widgets_values"])
        for widget in widgets:
            value = next(values)
            for _ in widget.extras():
                next(values)
            _check_widget(f"{name}: {node['type']}.{widget.name}", widget, value)
        for required in (i for i in definition.inputs if i.required and not i.is_widget):
            assert required.name in linked, f"{name}: {node['type']}.{required.name} is not connected"


@pytest.mark.parametrize("name", NAMES)
def test_api_format_inputs_fit_the_definitions_and_match_the_ui_graph(name, definitions):
    prompt = _load("api", f"{name}.json")
    ui = _load(f"{name}.json")
    assert {int(i): n["class_type"] for i, n in prompt.items()} == {n["id"]: n["type"] for n in ui["nodes"]}
    api_links = set()
    for node_id, node in prompt.items():
        definition = definitions[node["class_type"]]
        for input_name, value in node["inputs"].items():
            declared = definition.input(input_name)
            if isinstance(value, list):
                source, slot = value
                assert definitions[prompt[source]["class_type"]].outputs[slot][1] == declared.kind
                api_links.add((int(source), slot, int(node_id), input_name))
            else:
                _check_widget(f"{name}: {node['class_type']}.{input_name}", declared, value)
        missing = [i.name for i in definition.inputs if i.required and i.name not in node["inputs"]]
        assert not missing, f"{name}: {node['class_type']} lacks {missing}"
    targets = {n["id"]: n for n in ui["nodes"]}
    ui_links = {(src, slot, dst, targets[dst]["inputs"][dst_slot]["name"])
                for _, src, slot, dst, dst_slot, _ in ui["links"]}
    assert api_links == ui_links


def test_the_reference_workflow_uses_core_video_nodes_for_the_reference_video():
    types = {node["class_type"] for node in _load("api", "reference_video.json").values()}
    assert {"LoadVideo", "GetVideoComponents", "SadTalkerPoseFromReference"} <= types


def test_the_generated_portrait_workflow_feeds_a_decoded_image_to_extract_3dmm():
    prompt = _load("api", "generated_portrait.json")
    extract = next(n for n in prompt.values() if n["class_type"] == "SadTalkerExtract3DMM")
    assert prompt[extract["inputs"]["image"][0]]["class_type"] == "VAEDecode"
    assert {"CheckpointLoaderSimple", "CLIPTextEncode", "KSampler"} <= {n["class_type"] for n in prompt.values()}
