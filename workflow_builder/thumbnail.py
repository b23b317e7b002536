"""A template's picture for the front end's template browser, drawn from its UI-format workflow.

The other templates' pictures are screenshots of the real front end after a run; where no browser
is at hand this draws the same view schematically: the canvas, each node as a box with its title,
the links as lines, the note as a yellow box.  512 x 288 JPEG, as
the screenshots.

    python3 -m workflow_builder.thumbnail dub_video
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from .build import FOLDER, core_nodes, plugin_nodes
from .graph import NOTE_TYPE, TITLE_HEIGHT

SIZE = (512, 288)
MARGIN = 40  # canvas units around the graph
CANVAS, NODE, TITLE, NOTE, LINK, TEXT = "#202020", "#353535", "#2b2b2b", "#432", "#9a9", "#ddd"


def _titles() -> dict[str, str]:
    return {name: entry["display_name"] for name, entry in {**core_nodes(), **plugin_nodes()}.items()}


def draw(workflow: dict) -> Image.Image:
    """The workflow's nodes, note and links, fitted into :data:`SIZE`."""
    nodes = workflow["nodes"]
    left = min(n["pos"][0] for n in nodes) - MARGIN
    top = min(n["pos"][1] - TITLE_HEIGHT for n in nodes) - MARGIN
    right = max(n["pos"][0] + n["size"][0] for n in nodes) + MARGIN
    bottom = max(n["pos"][1] + n["size"][1] for n in nodes) + MARGIN
    scale = min(SIZE[0] / (right - left), SIZE[1] / (bottom - top))

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left) * scale, (y - top) * scale

    picture = Image.new("RGB", SIZE, CANVAS)
    pen = ImageDraw.Draw(picture)
    titles = _titles()
    by_id = {n["id"]: n for n in nodes}
    for node in nodes:
        (x, y), (width, height) = node["pos"], node["size"]
        box = (*at(x, y - TITLE_HEIGHT), *at(x + width, y + height))
        pen.rounded_rectangle(box, radius=3, fill=NOTE if node["type"] == NOTE_TYPE else NODE)
        if node["type"] == NOTE_TYPE:
            pen.text(at(x + 10, y), node["widgets_values"][0].splitlines()[0].lstrip("# "), fill=TEXT)
            continue
        pen.rectangle((*at(x, y - TITLE_HEIGHT), *at(x + width, y)), fill=TITLE)
        pen.text(at(x + 10, y - TITLE_HEIGHT + 4), titles.get(node["type"], node["type"]), fill=TEXT)
    for _, source, source_slot, target, target_slot, _ in workflow["links"]:
        a, b = by_id[source], by_id[target]
        start = at(a["pos"][0] + a["size"][0], a["pos"][1] + 10 + source_slot * 20)
        end = at(b["pos"][0], b["pos"][1] + 10 + target_slot * 20)
        pen.line((start, end), fill=LINK, width=1)
    return picture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", help="templates to draw (workflows/<name>.json -> workflows/<name>.jpg)")
    for name in parser.parse_args(argv).names:
        workflow = json.loads((FOLDER / f"{name}.json").read_text())
        path: Path = FOLDER / f"{name}.jpg"
        draw(workflow).save(path, quality=85)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
