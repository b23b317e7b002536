"""Example workflows (JSON, both ComfyUI formats) and the script that writes them (``build.py``)."""
