"""SadTalker core: audio + one portrait -> talking-head video, in plain PyTorch (no ComfyUI)."""

__version__ = "0.1.0"
