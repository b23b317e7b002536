"""What the workflow builder knows of our nodes, written to ``workflow_builder/plugin_nodes.json``:
each node's ``/object_info`` entry (read with empty ComfyUI folders, so the file does not depend on
this machine) and the names the example inputs get in ComfyUI's input folder.

The builder reads that file instead of importing the nodes: importing them needs ComfyUI's
``comfy_api.latest`` or the test stand-in (:mod:`comfy_api_standin`), and a shipped tool should
depend on neither.  After changing a node's inputs, run ``python3 tests/node_info.py`` and then
``python3 -m workflow_builder.build``; ``tests/nodes/test_workflows.py`` fails while the file is
out of date."""
from __future__ import annotations

import json
import os
import sys
import tempfile
from unittest import mock

from plugin_package import ROOT, load

PLUGIN_NODES = ROOT / "workflow_builder" / "plugin_nodes.json"


def plugin_nodes() -> dict:
    """Our nodes' ``/object_info`` entries by name, and the example inputs' names."""
    with tempfile.TemporaryDirectory() as empty, mock.patch.dict(os.environ, {"SADTALKER_COMFY_ROOT": empty}):
        plugin = load()
        nodes = {info["name"]: info for info in (node.GET_NODE_INFO_V1() for node in plugin.nodes.NODES)}
    comfy = plugin.nodes.comfy
    return {"nodes": nodes, "example_inputs": {"portrait": comfy.EXAMPLE_PORTRAIT, "speech": comfy.EXAMPLE_SPEECH}}


def text() -> str:
    return json.dumps(plugin_nodes(), indent=1) + "\n"


def main() -> int:
    PLUGIN_NODES.write_text(text())
    print(f"wrote {PLUGIN_NODES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
