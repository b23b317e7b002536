"""The example workflows' builder (``build.py``, writing ``workflows/``) and its graph model.  It
reads node definitions as ``/object_info`` entries: ComfyUI's core nodes from ``core_nodes.json``,
ours from ``plugin_nodes.json`` (written by ``tests/node_info.py``), so it needs neither ComfyUI nor
the test stand-in of its schema module."""
