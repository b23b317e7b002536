"""A motion drawn as a chart, to compare pose sources before spending minutes on a render.

Three panels over time in seconds: the head's yaw / pitch / roll in degrees (the 3DMM angles,
coefficients 64:67 = rotation about x (pitch), y (yaw), z (roll), in radians; free-view keyframes,
which replace a rendered angle, dashed), the mouth opening, and ExpNet's blink condition.

Mouth opening is a proxy: the official 64-d expression basis (a PCA of expression scans) has no
coefficient that is the mouth alone, so :func:`mouth_opening` is the distance of each frame's 64
expression coefficients from the face at rest (its own expression, else the clip's first frame).
ExpNet learns lip motion only (its training targets are lip-synced frames), so for generated
expressions the curve follows the mouth; blinks add to it too, and a reference video's other
facial movement (eyebrows, smiles) shows as well.

Drawn with Pillow at twice the size and scaled down (smooth lines), as an RGB uint8 picture.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..errors import InputError
from .free_view import camera_keyframes
from .sequences import EXP_DIM, ExpressionSequence, PoseSequence, combine_motion

#: yaw, pitch, roll: the 3DMM angle index of each, and its colour
ANGLES = (("yaw", 1, (230, 85, 13)), ("pitch", 0, (49, 130, 189)), ("roll", 2, (49, 163, 84)))
MOUTH_COLOUR = (214, 39, 40)
BLINK_COLOUR = (120, 120, 120)
MIN_DEGREES = 10.0  # the pose panel shows at least -10..10 degrees, so small motion looks small
SUPERSAMPLE = 2
MIN_SIZE = (640, 360)  # width, height: below this the labels collide


@dataclass(frozen=True)
class MotionCurves:
    """What a motion chart draws, one value per video frame at ``fps`` (each part may be absent)."""

    fps: int
    num_frames: int
    angles: np.ndarray | None = None  # (T, 3) yaw, pitch, roll in degrees
    free_view: dict[str, np.ndarray] = field(default_factory=dict)  # angle name -> (T,) degrees
    mouth: np.ndarray | None = None  # (T,) mouth opening proxy
    blink: np.ndarray | None = None  # (T,) eye-closing ratio 0..1 ExpNet was given

    @property
    def seconds(self) -> float:
        return self.num_frames / self.fps


def pose_degrees(pose: torch.Tensor) -> np.ndarray:
    """(T, 6) 3DMM poses -> (T, 3) yaw, pitch, roll in degrees."""
    radians = pose[:, :3].detach().cpu().double().numpy()
    return np.degrees(radians[:, [index for _, index, _ in ANGLES]])


def mouth_opening(expression: torch.Tensor, rest: torch.Tensor | None = None) -> np.ndarray:
    """(T, 64) expressions -> (T,) mouth-opening proxy: each frame's distance from ``rest`` (64,),
    the face's expression at rest (default: the first frame); see the module docstring."""
    values = expression.detach().cpu().double()
    rest = values[0] if rest is None else rest.detach().cpu().double().reshape(-1)
    if rest.shape != (EXP_DIM,):
        raise InputError(f"the rest expression must hold {EXP_DIM} coefficients, got {tuple(rest.shape)}")
    return torch.linalg.vector_norm(values - rest, dim=1).numpy()


def motion_curves(expression: ExpressionSequence | None = None, pose: PoseSequence | None = None,
                  rest_expression: torch.Tensor | None = None) -> MotionCurves:
    """The curves of an expression and / or a pose sequence.  With both, the clip is the
    expression's length and the pose is repeated or cut to it, as the renderer does."""
    if expression is None and pose is None:
        raise InputError("nothing to draw: give an expression, a pose or both")
    if expression is not None and pose is not None:
        motion = combine_motion(expression, pose)
        poses, fps, frames = motion.pose, motion.fps, motion.num_frames
    else:
        poses = None if pose is None else pose.pose
        fps = (expression or pose).fps
        frames = (expression or pose).num_frames
    free_view = {}
    if pose is not None:
        view = pose.free_view
        for name, keys in (("yaw", view.yaw), ("pitch", view.pitch), ("roll", view.roll)):
            if keys is not None:
                free_view[name] = camera_keyframes(keys, frames).double().numpy()
    return MotionCurves(
        fps=fps, num_frames=frames, angles=None if poses is None else pose_degrees(poses), free_view=free_view,
        mouth=None if expression is None else mouth_opening(expression.expression, rest_expression),
        blink=None if expression is None or expression.blink is None else expression.blink.detach().cpu().numpy(),
    )


def nice_step(span: float, ticks: int = 5) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving about ``ticks`` steps over ``span``."""
    raw = max(span, 1e-9) / ticks
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def nice_limit(value: float, minimum: float, ticks: int = 4) -> tuple[float, float]:
    """(limit, step): the axis end for values up to ``value`` (at least ``minimum``) and its tick
    step, the end a whole number of steps."""
    limit = max(value, minimum)
    step = nice_step(limit, ticks)
    return math.ceil(limit / step - 1e-9) * step, step


@dataclass(frozen=True)
class _Panel:
    """A plotting area in pixels and the value range it shows."""

    left: int
    top: int
    right: int
    bottom: int
    low: float
    high: float
    step: float  # between value ticks
    seconds: float

    def x(self, t: float) -> float:
        return self.left + (self.right - self.left) * t / self.seconds

    def y(self, value: float) -> float:
        return self.bottom - (self.bottom - self.top) * (value - self.low) / (self.high - self.low)

    def points(self, values: np.ndarray, fps: int) -> list[tuple[float, float]]:
        """A polyline of per-frame ``values``; a single frame is held over the whole axis."""
        if len(values) == 1:
            return [(self.left, self.y(values[0])), (self.right, self.y(values[0]))]
        return [(self.x(i / fps), self.y(v)) for i, v in enumerate(values)]


class _Canvas:
    """A Pillow drawing at ``SUPERSAMPLE`` times the output size; lengths are given at output size."""

    def __init__(self, width: int, height: int):
        self.scale = SUPERSAMPLE
        self.image = Image.new("RGB", (width * self.scale, height * self.scale), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.fonts = {size: ImageFont.load_default(size=size * self.scale) for size in (12, 13, 16)}

    def line(self, points, colour, width: float = 1.0) -> None:
        self.draw.line([(x * self.scale, y * self.scale) for x, y in points], fill=colour,
                       width=max(1, round(width * self.scale)), joint="curve")

    def dashed(self, points, colour, width: float = 2.0, dash: float = 7.0) -> None:
        """A polyline drawn ``dash`` px on, ``dash`` px off, along its length."""
        travelled = 0.0
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            length = math.hypot(x1 - x0, y1 - y0)
            start = 0.0
            while start < length:
                phase = (travelled + start) % (2 * dash)
                piece = min(dash - phase if phase < dash else 2 * dash - phase, length - start)
                if phase < dash:
                    a, b = start / length, (start + piece) / length
                    self.line([(x0 + (x1 - x0) * a, y0 + (y1 - y0) * a), (x0 + (x1 - x0) * b, y0 + (y1 - y0) * b)],
                              colour, width)
                start += piece
            travelled += length

    def rectangle(self, box, fill=None, outline=None) -> None:
        self.draw.rectangle([v * self.scale for v in box], fill=fill, outline=outline, width=self.scale)

    def polygon(self, points, fill) -> None:
        self.draw.polygon([(x * self.scale, y * self.scale) for x, y in points], fill=fill)

    def text(self, xy, text: str, size: int = 12, colour=(40, 40, 40), anchor: str = "la") -> None:
        self.draw.text((xy[0] * self.scale, xy[1] * self.scale), text, fill=colour, font=self.fonts[size],
                       anchor=anchor)

    def text_width(self, text: str, size: int = 12) -> float:
        return self.draw.textlength(text, font=self.fonts[size]) / self.scale

    def result(self, width: int, height: int) -> np.ndarray:
        return np.array(self.image.resize((width, height), Image.LANCZOS))


def _axes(canvas: _Canvas, panel: _Panel, title: str, unit: str = "") -> None:
    """Frame, horizontal grid with value labels, vertical grid at the time ticks, panel title."""
    for index in range(round((panel.high - panel.low) / panel.step) + 1):
        value = panel.low + index * panel.step
        y = panel.y(value)
        canvas.line([(panel.left, y), (panel.right, y)], (70, 70, 70) if abs(value) < 1e-9 else (225, 225, 225))
        canvas.text((panel.left - 6, y), f"{round(value, 6):g}", anchor="rm")
    for t in _time_ticks(panel.seconds):
        canvas.line([(panel.x(t), panel.top), (panel.x(t), panel.bottom)], (235, 235, 235))
    canvas.rectangle((panel.left, panel.top, panel.right, panel.bottom), outline=(70, 70, 70))
    canvas.text((panel.left, panel.top - 4), title, size=13, colour=(0, 0, 0), anchor="ld")
    canvas.text((panel.left - 6, panel.top - 4), unit, anchor="rd")


def _time_ticks(seconds: float) -> list[float]:
    step = nice_step(seconds, 8)
    return [i * step for i in range(int(seconds / step + 1e-9) + 1)]


def _legend(canvas: _Canvas, panel: _Panel, entries: list[tuple[str, tuple, bool]]) -> None:
    """Entries (label, colour, dashed) in a row, right-aligned above the panel."""
    x = panel.right
    for label, colour, dashed in reversed(entries):
        x -= canvas.text_width(label) + 4
        canvas.text((x, panel.top - 4), label, anchor="ld")
        x -= 22
        sample = [(x, panel.top - 9), (x + 18, panel.top - 9)]
        canvas.dashed(sample, colour, dash=4.0) if dashed else canvas.line(sample, colour, 2.0)
        x -= 14


def _message(canvas: _Canvas, panel: _Panel, text: str) -> None:
    canvas.text(((panel.left + panel.right) / 2, (panel.top + panel.bottom) / 2), text, colour=(130, 130, 130),
                anchor="mm")


def draw_motion(curves: MotionCurves, width: int = 960, height: int = 540, title: str = "") -> np.ndarray:
    """The chart of ``curves`` as an RGB uint8 (height, width, 3) picture (see the module docstring)."""
    if width < MIN_SIZE[0] or height < MIN_SIZE[1]:
        raise InputError(f"a motion chart needs at least {MIN_SIZE[0]} x {MIN_SIZE[1]} pixels to stay readable, "
                         f"got {width} x {height}")
    canvas = _Canvas(width, height)
    seconds = max(curves.num_frames - 1, 1) / curves.fps
    header = (f"{curves.num_frames} frames, {curves.seconds:.2f} s at {curves.fps} fps" if curves.num_frames > 1
              else "1 frame: held for the whole clip")
    canvas.text((12, 10), f"{title}  ({header})" if title else header, size=16, colour=(0, 0, 0))
    left, right, top, bottom = 58, width - 14, 58, height - 64
    usable = bottom - top - 2 * 30
    heights = (usable * 0.55, usable * 0.3, usable * 0.15)
    edges, y = [], top
    for share in heights:
        edges.append((round(y), round(y + share)))
        y += share + 30

    degrees = [abs(values).max() for values in (curves.angles, *curves.free_view.values()) if values is not None]
    limit, step = nice_limit(max(degrees, default=0.0), MIN_DEGREES, 2)
    pose_panel = _Panel(left, edges[0][0], right, edges[0][1], -limit, limit, step, seconds)
    _axes(canvas, pose_panel, "Head pose", "deg")
    if curves.angles is None:
        _message(canvas, pose_panel, "no pose connected")
    legend = []
    for column, (name, _, colour) in enumerate(ANGLES):
        if curves.angles is not None:
            canvas.line(pose_panel.points(curves.angles[:, column], curves.fps), colour, 2.0)
            legend.append((name, colour, False))
        if name in curves.free_view:
            canvas.dashed(pose_panel.points(curves.free_view[name], curves.fps), colour)
            legend.append((f"{name} free view", colour, True))
    _legend(canvas, pose_panel, legend)

    peak, step = nice_limit(0.0 if curves.mouth is None else float(curves.mouth.max()), 0.5, 3)
    mouth_panel = _Panel(left, edges[1][0], right, edges[1][1], 0.0, peak, step, seconds)
    _axes(canvas, mouth_panel, "Mouth opening (proxy)")
    if curves.mouth is None:
        _message(canvas, mouth_panel, "no expression connected")
    else:
        canvas.line(mouth_panel.points(curves.mouth, curves.fps), MOUTH_COLOUR, 2.0)
        _legend(canvas, mouth_panel, [("expression change from rest", MOUTH_COLOUR, False)])

    blink_panel = _Panel(left, edges[2][0], right, edges[2][1], 0.0, 1.0, 1.0, seconds)
    _axes(canvas, blink_panel, "Blinks")
    if curves.blink is None:
        _message(canvas, blink_panel, "no blink schedule (off, or the eyes follow a reference video)"
                 if curves.mouth is not None else "no expression connected")
    else:
        outline = blink_panel.points(curves.blink, curves.fps)
        canvas.polygon([(outline[0][0], blink_panel.bottom), *outline, (outline[-1][0], blink_panel.bottom)],
                       (200, 200, 200))
        canvas.line(outline, BLINK_COLOUR, 1.5)
        _legend(canvas, blink_panel, [("eye closing, 0-1", BLINK_COLOUR, False)])

    if curves.num_frames > 1:
        for t in _time_ticks(seconds):
            canvas.text((blink_panel.x(t), blink_panel.bottom + 5), f"{t:g}", anchor="ma")
        canvas.text(((left + right) / 2, bottom + 21), "time (s)", size=13, anchor="ma")
    canvas.text((12, height - 8), "Mouth opening (proxy): distance of the expression coefficients from the face at "
                "rest.", colour=(110, 110, 110), anchor="ld")
    return canvas.result(width, height)
