"""ArcFace networks from published files (Deng et al., CVPR 2019; insightface).

- ``arcface_torch`` checkpoints (insightface ``recognition/arcface_torch``, e.g.
  ``ms1mv3_arcface_r100_fp16/backbone.pth``): a plain ``torch.save`` of an IResNet state dict. We
  build our own IResNet with the same module names (``conv1``, ``bn1``, ``prelu``, ``layer1..4``
  of IBasicBlocks ``bn1 conv1 bn2 prelu conv2 bn3 [downsample]``, ``bn2``, ``fc``, ``features``),
  read the depth (r18/r34/r50/r100/r200) and embedding width from the keys, and load with
  ``weights_only=True``. Input: RGB 112x112, (x - 127.5) / 127.5, as its ``inference.py``.
  Other arcface_torch backbones (mobilefacenet, ViT) are refused with a one-line error: export them
  to ONNX or TorchScript instead.
- ONNX models: whether the graph normalises its input itself is decided as insightface's
  ``ArcFaceONNX`` does — a ``Sub``/``_minus`` and a ``Mul``/``_mul`` node among the first 8 nodes
  (by name, or here also by operator type) mean "feed raw 0-255 RGB" — and, because torch's ONNX
  export puts dozens of ``Identity`` nodes first, also when the image input is first used (through
  Identity/Cast/Reshape/Unsqueeze) by Sub/Add/Mul/Div; otherwise (x - 127.5) / 127.5. The graph is
  read with a small protobuf field reader (no ``onnx`` package needed).
"""

from __future__ import annotations

import mmap
from pathlib import Path

from emoavatar.errors import WeightsNotFoundError

from .common import load_weights, read_checkpoint

LAYERS = {(2, 2, 2, 2): "r18", (3, 4, 6, 3): "r34", (3, 4, 14, 3): "r50", (3, 13, 30, 3): "r100", (6, 26, 60, 6): "r200"}
FIX = ("use an insightface arcface_torch IResNet backbone.pth (r18/r34/r50/r100/r200), a TorchScript .pt, "
       "a torch.export .pt2 or an .onnx model")


def build_iresnet(layers=(3, 4, 14, 3), num_features: int = 512):
    """IResNet of arcface_torch (module names and shapes of its ``backbones/iresnet.py``)."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.bn1 = nn.BatchNorm2d(cin, eps=1e-5)
            self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout, eps=1e-5)
            self.prelu = nn.PReLU(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, stride, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(cout, eps=1e-5)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout, eps=1e-5))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.bn3(self.conv2(self.prelu(self.bn2(self.conv1(self.bn1(x))))))
            return out + (x if self.downsample is None else self.downsample(x))

    class IResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64, eps=1e-5)
            self.prelu = nn.PReLU(64)
            cin = 64
            for i, (n, width) in enumerate(zip(layers, (64, 128, 256, 512)), 1):
                blocks = [Block(cin, width, 2)] + [Block(width, width, 1) for _ in range(n - 1)]
                setattr(self, f"layer{i}", nn.Sequential(*blocks))
                cin = width
            self.bn2 = nn.BatchNorm2d(512, eps=1e-5)
            self.fc = nn.Linear(512 * 7 * 7, num_features)
            self.features = nn.BatchNorm1d(num_features, eps=1e-5)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            """``[N, 3, 112, 112]`` normalised RGB -> ``[N, num_features]``."""
            x = self.prelu(self.bn1(self.conv1(x)))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.features(self.fc(self.bn2(x).flatten(1)))

    return IResNet()


def iresnet_layers(state: dict) -> tuple[int, ...]:
    """Blocks per stage, read from ``layer<i>.<j>.`` keys."""
    counts = [0, 0, 0, 0]
    for k in state:
        parts = k.split(".")
        if len(parts) > 2 and parts[0] in ("layer1", "layer2", "layer3", "layer4") and parts[1].isdigit():
            i = int(parts[0][-1]) - 1
            counts[i] = max(counts[i], int(parts[1]) + 1)
    return tuple(counts)


def load_arcface_torch(path: str | Path, device: str = "cpu"):
    """Our IResNet with an arcface_torch ``backbone.pth`` loaded (``module.`` prefixes stripped)."""
    path = Path(path)
    state = read_checkpoint(path, "an arcface_torch state dict", FIX)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    layers = iresnet_layers(state)
    if layers not in LAYERS or "fc.weight" not in state:
        raise WeightsNotFoundError(f"{path} is not an arcface_torch IResNet (blocks per stage {layers}, "
                                   f"keys {list(state)[:3]} ...)", fix=FIX)
    model = build_iresnet(layers, state["fc.weight"].shape[0])
    return load_weights(model, state, path, f"an arcface_torch IResNet ({LAYERS[layers]})", FIX).to(device).eval()


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with a ``constants.pkl`` or ``code/`` entry."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())


# -- ONNX: the first nodes of the graph, read from the protobuf wire format ----------------
def _varint(buf, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _fields(buf, start: int, end: int):
    """(field number, wire type, value or (offset, end) for length-delimited) of one message."""
    i = start
    while i < end:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
            yield field, wire, v
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        elif wire == 2:
            n, i = _varint(buf, i)
            yield field, wire, (i, i + n)
            i += n
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def onnx_graph(path: str | Path) -> tuple[list[tuple[str, str, list[str], list[str]]], list[str]]:
    """(name, op_type, inputs, outputs) of every node, and the graph's input names, of an ONNX
    model (ModelProto.graph = 7; GraphProto.node = 1, .input = 11; NodeProto.input = 1,
    .output = 2, .name = 3, .op_type = 4; ValueInfoProto.name = 1). Tensors are skipped, never decoded."""
    def text(a: int, b: int) -> str:
        return bytes(buf[a:b]).decode("utf-8", "replace")

    nodes: list[tuple[str, str, list[str], list[str]]] = []
    inputs: list[str] = []
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        for field, wire, val in _fields(buf, 0, len(buf)):
            if field != 7 or wire != 2:
                continue
            for gf, gw, gval in _fields(buf, *val):
                if gw != 2:
                    continue
                if gf == 1:
                    name, op, ins, outs = "", "", [], []
                    for nf, nw, nval in _fields(buf, *gval):
                        if nw == 2 and nf in (1, 2):
                            (ins if nf == 1 else outs).append(text(*nval))
                        elif nw == 2 and nf == 3:
                            name = text(*nval)
                        elif nw == 2 and nf == 4:
                            op = text(*nval)
                    nodes.append((name, op, ins, outs))
                elif gf == 11:
                    inputs += [text(*v) for vf, vw, v in _fields(buf, *gval) if vf == 1 and vw == 2]
    return nodes, inputs


PASS_THROUGH = {"Identity", "Cast", "Reshape", "Unsqueeze"}


def onnx_normalises_input(path: str | Path) -> bool:
    """Does the graph scale its own input? insightface's rule (a ``Sub``/``_minus`` and a
    ``Mul``/``_mul`` node among the first 8 nodes), or — for exports that start with dozens of
    ``Identity`` nodes, like torch's — the image input is first used by arithmetic (Sub/Add/Mul/Div)."""
    nodes, inputs = onnx_graph(path)
    head = nodes[:8]
    if any(n.startswith(("Sub", "_minus")) or op == "Sub" for n, op, _, _ in head) and \
            any(n.startswith(("Mul", "_mul")) or op == "Mul" for n, op, _, _ in head):
        return True
    if not inputs:
        return False
    names = {inputs[0]}
    for _, op, ins, outs in nodes:  # nodes are stored in topological order
        if names & set(ins):
            if op not in PASS_THROUGH:
                return op in ("Sub", "Add", "Mul", "Div")
            names |= set(outs)
    return False
