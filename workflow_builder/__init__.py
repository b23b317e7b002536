"""The example workflows' builder (``build.py``, writing ``workflows/``), its graph model and
the vendored core node schemas, and the stand-in for ComfyUI's node schema module that lets it (and
the node tests) run without ComfyUI."""
