"""Node definitions (ours and ComfyUI's core ones) and a small graph builder that writes a workflow
in both of ComfyUI's formats from one description:

* API format (what ``POST /prompt`` takes): ``{id: {"class_type", "inputs", "_meta"}}``, an input
  is a widget value or a link ``[source id, output slot]``;
* the front end's UI format (what the browser saves / loads): nodes with positions, socket
  inputs, outputs with link ids, ``widgets_values`` in widget order, and a ``links`` table
  ``[link id, source id, source slot, target id, target slot, type]``.

The front end gives some widgets extra values: an INT ``seed`` / ``noise_seed`` (or any input
with ``control_after_generate``) is followed by its control ("fixed", "randomize", ...), and
upload widgets add their button's value (:data:`UPLOAD_EXTRAS`).  Core definitions are what
ComfyUI 0.3.64 reports at ``/object_info`` (``core_nodes.json``, see :mod:`workflow_builder.build`).

Layout: nodes are placed by (column, row); a column is as wide as its widest node, and the nodes of
a column are stacked by their height (the one the front end gives them, preview included) with a
gap, never higher than their row's lane.  A note (the front end's Markdown Note, UI format only)
sits above the graph.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
#: node types the front end adds of its own (not in /object_info, not in API prompts)
NOTE_TYPE = "MarkdownNote"
#: the front end's measures (ComfyUI 0.3.64, front end 1.27.10): a node's title bar, a socket row, a
#: widget row, and the height it gives a node at least: ``rows * 20 + (widgets * 24 + 8) + 6``
TITLE_HEIGHT, SLOT_HEIGHT, WIDGET_HEIGHT = 30, 20, 24
NODE_WIDTH = 340
#: what a node grows by to show its picture, video, audio player or chart (measured there, rounded up)
PREVIEW_HEIGHT = {"LoadImage": 240, "LoadVideo": 240, "PreviewImage": 260, "SaveVideo": 260, "LoadAudio": 40,
                  "SadTalkerPreviewMotion": 300}
NODE_WIDTHS = {"SadTalkerPreviewMotion": 520}
COLUMN_GAP = 60  # between the widest node of a column and the next column
NODE_GAP = 40  # between a node's bottom and the title bar of the node below it
ROW_HEIGHT = 300  # the lanes rows start in, so the stages of one flow line up across columns
#: values the front end stores after an upload widget's own value
UPLOAD_EXTRAS = {"image_upload": ["image"], "video_upload": ["image"], "audio_upload": [None, None]}
CONTROL_NAMES = ("seed", "noise_seed")


@dataclass(frozen=True)
class InputDef:
    """One input of a node: ``kind`` is the socket type, or ``COMBO`` with its ``choices``."""

    name: str
    kind: str
    options: dict
    required: bool
    choices: tuple = ()

    @property
    def is_widget(self) -> bool:
        return self.kind in WIDGET_TYPES and not self.options.get("forceInput")

    @property
    def has_control(self) -> bool:
        named_seed = self.kind == "INT" and self.name in CONTROL_NAMES
        return bool(self.options.get("control_after_generate")) or named_seed

    def extras(self) -> list:
        """The values the front end stores after this widget's own (control, upload button)."""
        extras = ["fixed"] if self.has_control else []
        for key, values in UPLOAD_EXTRAS.items():
            if self.options.get(key):
                extras += values
        return extras

    def default(self) -> Any:
        if "default" in self.options:
            return self.options["default"]
        return self.choices[0] if self.choices else None


@dataclass(frozen=True)
class NodeDef:
    type: str
    inputs: tuple[InputDef, ...]
    outputs: tuple[tuple[str, str], ...]  # (name, type)

    def input(self, name: str) -> InputDef:
        for definition in self.inputs:
            if definition.name == name:
                return definition
        raise KeyError(f"{self.type} has no input '{name}' (inputs: {', '.join(i.name for i in self.inputs)})")


def _input_def(name: str, declaration: list | tuple, required: bool) -> InputDef:
    kind = declaration[0]
    options = dict(declaration[1]) if len(declaration) > 1 and isinstance(declaration[1], dict) else {}
    if isinstance(kind, list):
        return InputDef(name, "COMBO", options, required, tuple(kind))
    return InputDef(name, kind, options, required, tuple(options.get("options", ())))


def from_object_info(name: str, info: dict) -> NodeDef:
    """A node definition from ComfyUI's ``/object_info`` entry."""
    order = info.get("input_order") or {group: list(info["input"].get(group, {})) for group in ("required", "optional")}
    inputs = tuple(_input_def(n, info["input"][group][n], group == "required")
                   for group in ("required", "optional") for n in order.get(group, []))
    return NodeDef(name, inputs, tuple(zip(info["output_name"], info["output"])))


def catalog(*object_infos: dict[str, dict]) -> dict[str, NodeDef]:
    """Every node a workflow may use, from ``/object_info`` entries (ComfyUI's core nodes, ours)."""
    return {name: from_object_info(name, info) for infos in object_infos for name, info in infos.items()}


@dataclass(frozen=True)
class Output:
    node: Node
    slot: int

    @property
    def kind(self) -> str:
        return self.node.definition.outputs[self.slot][1]


@dataclass(eq=False)
class Node:
    id: int
    definition: NodeDef
    column: int
    row: int
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, output: str | int) -> Output:
        if isinstance(output, int):
            return Output(self, output)
        names = [name for name, _ in self.definition.outputs]
        return Output(self, names.index(output))


def node_height(node_type: str, socket_rows: int, widget_values: int) -> int:
    """The height the front end gives a node (below its title bar): socket rows, widget rows and the
    preview it shows."""
    widgets = widget_values * WIDGET_HEIGHT + 8 if widget_values else 0
    return socket_rows * SLOT_HEIGHT + widgets + 6 + PREVIEW_HEIGHT.get(node_type, 0)


@dataclass(frozen=True)
class Note:
    """The workflow's explanation: Markdown text in a box of ``size`` above the graph."""

    text: str
    size: tuple[int, int]


class Graph:
    """Nodes added in running order; a value that is an :class:`Output` is a link."""

    def __init__(self, definitions: dict[str, NodeDef]):
        self.definitions = definitions
        self.nodes: list[Node] = []
        self.note: Note | None = None

    def explain(self, text: str, width: int = 760, height: int = 300) -> None:
        """The note above the graph (Markdown)."""
        self.note = Note(text.strip(), (width, height))

    def add(self, node_type: str, column: int, row: int, **values: Any) -> Node:
        definition = self.definitions[node_type]
        for name, value in values.items():
            expected = definition.input(name).kind
            if isinstance(value, Output) and value.kind != expected:
                raise TypeError(f"{node_type}.{name} takes {expected}, got {value.kind}")
        node = Node(len(self.nodes) + 1, definition, column, row, values)
        self.nodes.append(node)
        return node

    def _layout(self, sizes: dict[int, tuple[int, int]]) -> dict[int, tuple[int, int]]:
        """Each node's position (its body's top left; the title bar is above it), see the module docstring."""
        top = self.note.size[1] + TITLE_HEIGHT + NODE_GAP if self.note else 0
        positions, x = {}, 0
        for column in range(max(node.column for node in self.nodes) + 1):
            members = sorted((node for node in self.nodes if node.column == column), key=lambda n: (n.row, n.id))
            bottom = None
            for node in members:
                y = top + node.row * ROW_HEIGHT
                if bottom is not None:
                    y = max(y, bottom + NODE_GAP + TITLE_HEIGHT)
                positions[node.id] = (x, y)
                bottom = y + sizes[node.id][1]
            x += max((sizes[node.id][0] for node in members), default=NODE_WIDTH) + COLUMN_GAP
        return positions

    def _value(self, node: Node, definition: InputDef) -> Any:
        return node.values.get(definition.name, definition.default())

    def api(self) -> dict:
        prompt = {}
        for node in self.nodes:
            inputs = {}
            for definition in node.definition.inputs:
                value = self._value(node, definition)
                if isinstance(value, Output):
                    inputs[definition.name] = [str(value.node.id), value.slot]
                elif definition.is_widget and value is not None:
                    inputs[definition.name] = value
            prompt[str(node.id)] = {"inputs": inputs, "class_type": node.definition.type,
                                    "_meta": {"title": node.definition.type}}
        return prompt

    def ui(self) -> dict:
        links: list[list] = []
        outputs_links: dict[tuple[int, int], list[int]] = {}
        ui_nodes, sizes = [], {}
        for order, node in enumerate(self.nodes):
            inputs, widgets = [], []
            for definition in node.definition.inputs:
                value = node.values.get(definition.name)
                linked = isinstance(value, Output)
                if definition.is_widget:
                    widgets += [definition.default() if linked else self._value(node, definition), *definition.extras()]
                if definition.is_widget and not linked:
                    continue
                slot = {"name": definition.name, "type": definition.kind, "link": None}
                if definition.is_widget:
                    slot["widget"] = {"name": definition.name}
                if not definition.required:
                    slot["shape"] = 7
                if linked:
                    slot["link"] = len(links) + 1
                    links.append([slot["link"], value.node.id, value.slot, node.id, len(inputs), value.kind])
                    outputs_links.setdefault((value.node.id, value.slot), []).append(slot["link"])
                inputs.append(slot)
            kind = node.definition.type
            sizes[node.id] = (NODE_WIDTHS.get(kind, NODE_WIDTH),
                              node_height(kind, max(len(inputs), len(node.definition.outputs)), len(widgets)))
            ui_nodes.append({
                "id": node.id, "type": kind, "pos": None, "size": list(sizes[node.id]),
                "flags": {}, "order": order, "mode": 0, "inputs": inputs, "outputs": [],
                "properties": {"Node name for S&R": kind}, "widgets_values": widgets,
            })
        positions = self._layout(sizes)
        for ui_node, node in zip(ui_nodes, self.nodes):
            ui_node["pos"] = list(positions[node.id])
            ui_node["outputs"] = [{"name": name, "type": kind, "slot_index": slot,
                                   "links": outputs_links.get((node.id, slot))}
                                  for slot, (name, kind) in enumerate(node.definition.outputs)]
        if self.note:
            ui_nodes.append({
                "id": len(self.nodes) + 1, "type": NOTE_TYPE, "pos": [0, 0], "size": list(self.note.size),
                "flags": {}, "order": len(self.nodes), "mode": 0, "inputs": [], "outputs": [], "properties": {},
                "widgets_values": [self.note.text], "color": "#432", "bgcolor": "#653",
            })
        return {"last_node_id": len(ui_nodes), "last_link_id": len(links), "nodes": ui_nodes, "links": links,
                "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [40, 60]}}, "version": 0.4}
