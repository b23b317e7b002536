"""The example workflows load in ComfyUI: every node type exists (ours, or a core node of ComfyUI
0.3.64's /object_info), every link joins an output to an input of the same type, required inputs
are connected, widget values fit their widgets, and the UI and API files describe the same graph.
They are where ComfyUI lists a plugin's templates, explain themselves in a note, load the example
inputs the plugin puts into the input folder, and are laid out so that no node covers or touches
another once the front end shows its preview.  The builder's vendored core node entries are
ComfyUI 0.3.64's own (tests/data/comfyui)."""
from __future__ import annotations

import json
import subprocess
import sys

import node_info
import pytest
from paths import OBJECT_INFO_CORE
from plugin_package import ROOT, load

from workflow_builder import build
from workflow_builder.graph import NODE_GAP, NOTE_TYPE, TITLE_HEIGHT, InputDef, NodeDef, catalog

WORKFLOWS = build.FOLDER
NAMES = sorted(build.WORKFLOWS)
#: heights (below the title bar) the front end of ComfyUI 0.3.64 (1.27.10) gave these nodes once they
#: showed their picture, player or chart, measured in headless Chromium
SHOWN_HEIGHTS = {"LoadImage": 326, "LoadAudio": 136, "SadTalkerExtract3DMM": 170, "SadTalkerExpNet": 190,
                 "SadTalkerLoadModels": 130, "SadTalkerRender": 138}


@pytest.fixture(scope="module")
def definitions() -> dict[str, NodeDef]:
    return catalog(build.core_nodes(), build.plugin_nodes())


def test_the_builder_reads_our_nodes_as_they_declare_themselves():
    assert build.PLUGIN_NODES.read_text() == node_info.text(), "run python3 tests/node_info.py"
    assert set(build.plugin_nodes()) == {node.GET_SCHEMA().node_id for node in load().nodes.NODES}


def test_the_builder_needs_neither_comfyui_nor_the_test_stand_in():
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, workflow_builder.build; print(sorted(m for m in sys.modules "
         "if m.split('.')[0] in ('comfy_api', 'comfyui_sadtalker', 'comfy_api_standin', 'nodes')))"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    assert imported.stdout.strip() == "[]"


def test_the_vendored_core_nodes_are_comfyui_0_3_64s_and_all_the_workflows_use():
    reported = json.loads(OBJECT_INFO_CORE.read_text())
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


def test_the_seven_workflows_are_comfyuis_templates_in_both_formats():
    assert NAMES == ["download_models", "dub_video", "free_view", "full_body_enhanced", "generated_portrait",
                     "portrait_speech", "reference_video"]
    assert WORKFLOWS == ROOT / "workflows"  # a folder ComfyUI lists a plugin's templates from (the design card's)
    for name in NAMES:
        assert WORKFLOWS.joinpath(f"{name}.json").is_file() and WORKFLOWS.joinpath("api", f"{name}.json").is_file()
    for name in NAMES:  # the template browser's picture of each: small
        assert 1_000 < WORKFLOWS.joinpath(f"{name}.jpg").stat().st_size < 50_000, name
    # ComfyUI also lists the JSON files of these folders as templates: none may hold anything else
    assert sorted(path.stem for path in WORKFLOWS.glob("*.json")) == NAMES
    for other in ("example_workflows", "example", "examples", "workflow"):
        assert not (ROOT / other).exists(), other


def test_the_files_are_what_build_writes():
    """Regenerate with ``python3 -m workflow_builder.build`` after changing a node's inputs."""
    for path, text in build.build().items():
        assert path.read_text() == text, f"{path} is out of date"


def _graph_nodes(workflow: dict) -> list[dict]:
    """The nodes of a UI-format workflow that run (not the front end's notes)."""
    return [node for node in workflow["nodes"] if node["type"] != NOTE_TYPE]


@pytest.mark.parametrize("name", NAMES)
def test_ui_format_nodes_links_and_widgets_fit_the_definitions(name, definitions):
    workflow = _load(f"{name}.json")
    assert workflow["last_node_id"] == max(node["id"] for node in workflow["nodes"])
    assert workflow["last_link_id"] == len(workflow["links"])
    nodes = {node["id"]: node for node in _graph_nodes(workflow)}
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
    assert {int(i): n["class_type"] for i, n in prompt.items()} == {n["id"]: n["type"] for n in _graph_nodes(ui)}
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
    targets = {n["id"]: n for n in _graph_nodes(ui)}
    ui_links = {(src, slot, dst, targets[dst]["inputs"][dst_slot]["name"])
                for _, src, slot, dst, dst_slot, _ in ui["links"]}
    assert api_links == ui_links


def test_the_reference_workflow_hands_load_videos_video_to_extract_3dmm():
    """No Get Video Components: it would decode the whole video before Extract 3DMM sees a frame."""
    prompt = _load("api", "reference_video.json")
    types = {node["class_type"] for node in prompt.values()}
    assert {"LoadVideo", "SadTalkerPoseFromReference"} <= types and "GetVideoComponents" not in types
    video_extract = next(n for n in prompt.values() if n["class_type"] == "SadTalkerExtract3DMM" and "video" in n["inputs"])
    assert prompt[video_extract["inputs"]["video"][0]]["class_type"] == "LoadVideo"


def test_the_dub_workflow_dubs_load_videos_video_at_its_rate_with_the_speech():
    prompt = _load("api", "dub_video.json")
    (dub,) = (n for n in prompt.values() if n["class_type"] == "SadTalkerDubVideo")
    assert prompt[dub["inputs"]["video"][0]]["class_type"] == "LoadVideo"
    assert prompt[dub["inputs"]["audio"][0]]["class_type"] == "LoadAudio"
    (video,) = (n for n in prompt.values() if n["class_type"] == "CreateVideo")
    dub_id = next(i for i, n in prompt.items() if n is dub)
    assert {video["inputs"][name][0] for name in ("images", "audio", "fps")} == {dub_id}


def test_the_generated_portrait_workflow_feeds_a_decoded_image_to_extract_3dmm():
    prompt = _load("api", "generated_portrait.json")
    extract = next(n for n in prompt.values() if n["class_type"] == "SadTalkerExtract3DMM")
    assert prompt[extract["inputs"]["image"][0]]["class_type"] == "VAEDecode"
    assert {"CheckpointLoaderSimple", "CLIPTextEncode", "KSampler"} <= {n["class_type"] for n in prompt.values()}


@pytest.mark.parametrize("name", NAMES)
def test_each_workflow_explains_itself_in_a_note(name):
    notes = [node for node in _load(f"{name}.json")["nodes"] if node["type"] == NOTE_TYPE]
    assert len(notes) == 1
    text = notes[0]["widgets_values"][0]
    assert text.startswith("## SadTalker: ") and "models/sadtalker" in text
    for file_name in ("SadTalker_V0.0.2_256.safetensors", "mapping_00229-model.pth.tar", "mapping_00109-model.pth.tar"):
        assert file_name in text, f"{name}: the note does not name {file_name}"
    if name != "download_models":
        assert "download_models" in text  # how to get the files


def test_notes_name_the_other_files_a_workflow_needs():
    assert "facerestore_models" in _note("full_body_enhanced") and "GFPGANv1.4.pth" in _note("full_body_enhanced")
    assert "models/checkpoints" in _note("generated_portrait")
    for name in ("reference_video", "dub_video"):
        assert "upload" in _note(name) and build.REFERENCE_VIDEO in _note(name)


def _note(name: str) -> str:
    return next(n for n in _load(f"{name}.json")["nodes"] if n["type"] == NOTE_TYPE)["widgets_values"][0]


def test_the_workflows_load_the_example_inputs_the_plugin_puts_into_the_input_folder():
    comfy = load().nodes.comfy
    assert {build.PORTRAIT, build.SPEECH} == set(comfy.EXAMPLE_INPUTS)
    assert all((comfy.ASSETS / asset).is_file() for asset in comfy.EXAMPLE_INPUTS.values())
    for name in NAMES:
        for node in _load("api", f"{name}.json").values():
            if node["class_type"] == "LoadImage":
                assert node["inputs"]["image"] == build.PORTRAIT
            if node["class_type"] == "LoadAudio":
                assert node["inputs"]["audio"] == build.SPEECH


def test_preview_motion_shows_the_pose_rendered_in_the_reference_and_free_view_workflows():
    for name, source in (("reference_video", "SadTalkerPoseFromReference"), ("free_view", "SadTalkerFreeView")):
        prompt = _load("api", f"{name}.json")
        (preview,) = (n for n in prompt.values() if n["class_type"] == "SadTalkerPreviewMotion")
        (render,) = (n for n in prompt.values() if n["class_type"] == "SadTalkerRender")
        assert prompt[preview["inputs"]["pose"][0]]["class_type"] == source
        assert preview["inputs"]["pose"] == render["inputs"]["pose"]
        assert preview["inputs"]["expression"] == render["inputs"]["expression"]


def test_the_reference_videos_frames_are_extracted_only_as_far_as_the_speech_needs():
    prompt = _load("api", "reference_video.json")
    video_extract = next(n for n in prompt.values() if n["class_type"] == "SadTalkerExtract3DMM" and "video" in n["inputs"])
    assert prompt[video_extract["inputs"]["audio"][0]]["class_type"] == "LoadAudio"


def _box(node: dict) -> tuple[int, int, int, int]:
    """left, top (title bar included), right, bottom"""
    (x, y), (width, height) = node["pos"], node["size"]
    return x, y - TITLE_HEIGHT, x + width, y + height


@pytest.mark.parametrize("name", NAMES)
def test_no_node_covers_or_touches_another_once_it_shows_its_preview(name):
    nodes = _load(f"{name}.json")["nodes"]
    for node in nodes:
        assert node["size"][1] >= SHOWN_HEIGHTS.get(node["type"], 0), f"{name}: {node['type']} grows in the front end"
    for index, a in enumerate(nodes):
        for b in nodes[index + 1:]:
            (al, at, ar, ab), (bl, bt, br, bb) = _box(a), _box(b)
            apart_x, apart_y = max(bl - ar, al - br), max(bt - ab, at - bb)
            assert apart_x >= NODE_GAP or apart_y >= NODE_GAP, f"{name}: {a['type']} and {b['type']} touch"
