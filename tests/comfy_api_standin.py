"""A stand-in for ComfyUI's node schema module ``comfy_api.latest`` (ComfyUI >= 0.3.64), for use
without ComfyUI: the node tests and the workflow builder import the plugin through it.

It holds only what this node set declares itself with (``io.ComfyNode``, ``io.Schema``, the
``Input`` / ``Output`` of the core socket types, ``io.Custom``, ``io.NodeOutput``,
``ComfyExtension``), keyword for keyword as the real module takes them, so a misspelt option fails
here too, and reports a node the way a real server does at ``/object_info``
(:meth:`ComfyNode.GET_NODE_INFO_V1`).  :func:`install` registers it as ``comfy_api.latest`` only
when the real module cannot be imported; inside ComfyUI it is never used.  That it matches the
real module was checked by comparing its ``/object_info`` entries with a real 0.3.64 server's
(README, "Checked on a real ComfyUI").
"""
from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from types import ModuleType
from typing import Any, ClassVar


class UploadType(str, Enum):
    image = "image_upload"
    audio = "audio_upload"
    video = "video_upload"
    model = "file_upload"


class FolderType(str, Enum):
    input = "input"
    output = "output"
    temp = "temp"


def _pruned(values: dict) -> dict:
    return {key: value for key, value in values.items() if value is not None}


def _option_value(name: str, value: Any) -> tuple[str, Any]:
    """One widget option as ``/object_info`` spells it."""
    if isinstance(value, Enum):
        value = value.value
    return {"force_input": "forceInput", "dynamic_prompts": "dynamicPrompts", "display_mode": "display",
            "widget_type": "widgetType"}.get(name, name), value


class Input:
    """An input socket (and widget, for the widget types) of one type; ``options`` are the
    type's own keywords (``default``, ``min``, ``options`` ...)."""

    io_type = ""
    allowed: ClassVar[frozenset[str]] = frozenset()
    always: ClassVar[dict[str, Any]] = {}  # options the real module reports even when not given

    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None,
                 lazy: bool | None = None, **options: Any):
        unknown = set(options) - self.allowed
        if unknown:
            raise TypeError(f"{type(self).__qualname__}() got unexpected keyword arguments {sorted(unknown)}")
        self.id, self.display_name, self.optional, self.tooltip, self.lazy = id, display_name, optional, tooltip, lazy
        self.options = options

    def as_dict(self) -> dict:
        options = dict(_option_value(name, value) for name, value in _pruned(self.options).items())
        return _pruned({"display_name": self.display_name, "tooltip": self.tooltip, "lazy": self.lazy}) \
            | self.always | options


class ComboInput(Input):
    """A list of choices (``options``: strings, or an Enum class); ``upload`` adds an upload button."""

    io_type = "COMBO"
    allowed = frozenset({"default", "control_after_generate", "upload", "image_folder", "remote", "socketless"})

    def __init__(self, id: str, options: list | type[Enum] | None = None, **kwargs: Any):
        if isinstance(options, type) and issubclass(options, Enum):
            options = [member.value for member in options]
        if isinstance(kwargs.get("default"), Enum):
            kwargs["default"] = kwargs["default"].value
        super().__init__(id, **kwargs)
        self.choices = options

    def as_dict(self) -> dict:
        upload = self.options.get("upload")
        described = {key: value for key, value in super().as_dict().items() if key != "upload"}
        return described | _pruned({"multiselect": False, "options": self.choices}) \
            | ({upload.value: True} if upload is not None else {})


class Output:
    io_type = ""

    def __init__(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None,
                 is_output_list: bool = False):
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name, tooltip, is_output_list


_WIDGET = frozenset({"default", "socketless", "force_input"})


def _socket_type(io_type: str, input_base: type[Input] = Input, allowed: frozenset[str] = frozenset(),
                 always: dict | None = None) -> type:
    """A socket type: a class with its ``io_type`` and its ``Input`` / ``Output`` classes."""
    input_class = type("Input", (input_base,), {"io_type": io_type, "allowed": input_base.allowed | allowed,
                                                "always": always or input_base.always})
    output_class = type("Output", (Output,), {"io_type": io_type})
    return type(io_type.title(), (), {"io_type": io_type, "Input": input_class, "Output": output_class})


def Custom(io_type: str) -> type:
    """A socket type of this plugin's own (no widget)."""
    return _socket_type(io_type)


Image = _socket_type("IMAGE")
Audio = _socket_type("AUDIO")
Video = _socket_type("VIDEO")
Int = _socket_type("INT", allowed=_WIDGET | {"min", "max", "step", "control_after_generate", "display_mode"})
Float = _socket_type("FLOAT", allowed=_WIDGET | {"min", "max", "step", "round", "display_mode"})
Boolean = _socket_type("BOOLEAN", allowed=_WIDGET | {"label_on", "label_off"})
String = _socket_type("STRING", allowed=_WIDGET | {"multiline", "placeholder", "dynamic_prompts"},
                      always={"multiline": False})
Combo = _socket_type("COMBO", ComboInput)


@dataclass
class Schema:
    """A node's declaration: id, names, category, inputs and outputs."""

    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] | None = None
    outputs: list[Output] | None = None
    description: str = ""
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    not_idempotent: bool = False

    def validate(self) -> None:
        ids = [i.id for i in self.inputs or []] + [o.id for o in self.outputs or [] if o.id is not None]
        repeated = sorted({name for name in ids if ids.count(name) > 1})
        if repeated:
            raise ValueError(f"{self.node_id}: input / output ids must be unique, but {repeated} are not")


class NodeOutput:
    """What ``execute`` returns: the output values in order, and what the front end shows (``ui``)."""

    def __init__(self, *args: Any, ui: dict | None = None):
        self.args, self.ui = args, ui

    @property
    def result(self) -> tuple | None:
        return self.args or None

    def __getitem__(self, index: int) -> Any:
        return self.args[index]


class ComfyNode:
    """A node: ``define_schema`` declares it, ``execute`` runs it (both class methods)."""

    @classmethod
    @abstractmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    @abstractmethod
    def execute(cls, **kwargs: Any) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        schema = cls.define_schema()
        schema.validate()
        return schema

    @classmethod
    def GET_NODE_INFO_V1(cls) -> dict:
        """The node as ``GET /object_info`` reports it."""
        schema = cls.GET_SCHEMA()
        inputs: dict[str, dict] = {"required": {}}
        for declared in schema.inputs or []:
            group = inputs.setdefault("optional" if declared.optional else "required", {})
            group[declared.id] = (declared.io_type, declared.as_dict())
        if schema.is_output_node:
            inputs["hidden"] = {"prompt": ("PROMPT",), "extra_pnginfo": ("EXTRA_PNGINFO",)}
        outputs = schema.outputs or []
        return {
            "input": inputs, "input_order": {group: list(entries) for group, entries in inputs.items()},
            "output": [o.io_type for o in outputs], "output_is_list": [o.is_output_list for o in outputs],
            "output_name": [o.display_name or o.io_type for o in outputs],
            "output_tooltips": [o.tooltip for o in outputs],
            "name": schema.node_id, "display_name": schema.display_name, "description": schema.description,
            "python_module": getattr(cls, "RELATIVE_PYTHON_MODULE", "nodes"), "category": schema.category,
            "output_node": schema.is_output_node, "deprecated": schema.is_deprecated,
            "experimental": schema.is_experimental, "api_node": False,
        }


class ComfyExtension(ABC):
    """What a plugin's ``comfy_entrypoint`` returns: it lists the plugin's nodes."""

    async def on_load(self) -> None:
        """Called when the extension is loaded (by ComfyUI versions that call it)."""

    @abstractmethod
    async def get_node_list(self) -> list[type[ComfyNode]]:
        ...


def install() -> None:
    """Make ``from comfy_api.latest import ComfyExtension, io`` work without ComfyUI (nothing when
    the real ``comfy_api`` can be imported)."""
    try:
        import comfy_api.latest  # noqa: F401
        return
    except ImportError:
        pass
    io = ModuleType("comfy_api.latest.io")
    for name in ("UploadType", "FolderType", "Input", "Output", "Custom", "Image", "Audio", "Video", "Int", "Float",
                 "Boolean", "String", "Combo", "Schema", "NodeOutput", "ComfyNode"):
        setattr(io, name, globals()[name])
    latest = ModuleType("comfy_api.latest")
    latest.io, latest.ComfyExtension = io, ComfyExtension
    package = ModuleType("comfy_api")
    package.__path__, package.latest = [], latest
    sys.modules.update({"comfy_api": package, "comfy_api.latest": latest, "comfy_api.latest.io": io})
