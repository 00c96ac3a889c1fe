"""Light spec of the ``warp2d`` renderer: config model + ComponentSpec (no OpenCV import)."""

from __future__ import annotations

from typing import Literal

from emoavatar.spec import ComponentSpec
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Warp2DConfig(BaseModel):
    """Options of the piecewise-affine warp renderer."""

    model_config = ConfigDict(extra="forbid")

    mouth_fill: bool = Field(True, description="paint a dark mouth cavity where the lips open wider than in the portrait")
    cavity: Literal["dark", "classic"] = Field("dark", description="mouth cavity paint: 'dark' a near-black cavity "
                                               "bounded by a spline through the inner-lip landmarks (dlib's lip landmarks "
                                               "follow wider openings); 'classic' the earlier red-brown 8-point polygon")
    teeth: float = Field(0.6, ge=0.0, le=1.0, description="strength of the upper-teeth band in an opened mouth (0: none)")
    blink_fill: bool = Field(True, description="tint the lowered eyelid with skin colour sampled above the eye and draw "
                             "a lash line, so blinks read as closed eyes")
    feather: float = Field(1.0, gt=0.0, le=10.0, description="softness (px, at 256 px face scale) of painted edges")
    ring_scale: float = Field(1.6, ge=1.3, le=4.0, description="fixed ring of control points at this multiple of the "
                              "face size: outside it the image never moves (background, shoulders)")
    head_ring_scale: float = Field(1.2, ge=1.05, le=2.0, description="ring of control points that follows the rigid "
                                   "head motion (hair moves with the head); must be below ring_scale")
    border_margin: float = Field(0.05, ge=0.0, le=0.5, description="fixed frame points this fraction of the image size "
                                 "outside the border")
    shading: float = Field(1.0, ge=0.0, le=2.0, description="strength of the expression shading drawn from the motion's "
                           "optional au_change track (furrows and folds of FACS AUs 1, 2, 4, 6, 7, 9, 10, 12, 17; the "
                           "portrait's own folds flattened where it releases AU1/2, 4, 6, 12; 0: none)")
    map_scale: float = Field(1.0, gt=0.1, le=1.0, description="build the warp map at this fraction of the resolution "
                             "and upsample it (faster for big images; the map is piecewise linear)")

    @model_validator(mode="after")
    def _rings_ordered(self) -> Warp2DConfig:
        if self.head_ring_scale >= self.ring_scale - 0.1:
            raise ValueError(f"head_ring_scale ({self.head_ring_scale}) must be at least 0.1 below ring_scale "
                             f"({self.ring_scale})")
        return self


SPEC = ComponentSpec(
    name="warp2d",
    kind="renderers",
    factory="emoavatar_warp2d.renderer:Warp2DRenderer",
    config=Warp2DConfig,
    consumes=("motion:landmarks68",),
    produces=("frames",),
    summary="piecewise-affine landmark warp of the portrait with mouth cavity, teeth hint and blinks",
)
