"""Export the 14 architectures of issue #13 from PyTorch, with both exporters, as test fixtures.

Run with a Python that has torch, torchvision, onnx, onnxscript and onnxruntime (torch is not a
dependency of mcugen or of its tests):

    python scripts/export_torch_models.py [--out tests/fixtures/torch_exports] [--only NAME ...]

Every model gets random weights (a fixed seed) and BatchNorm statistics warmed on random data (a
few forward passes in train mode, then eval), and is exported with a fixed batch of 1 twice:
`<name>_dynamo.onnx` (torch.onnx.export's default exporter, opset 18: reductions take their axes as
an input) and `<name>_legacy.onnx` (dynamo=False, opset 17: axes as an attribute). The torchvision
families keep their architecture at microcontroller size: few classes, 64x64 or 96x96 inputs, and
widths shrunk where the full one would make a file larger than about 1.5 MB (MNASNet at 0.25,
EfficientNet-B0 at 0.2, MobileNetV3-small at 0.5 with the reduced tail, ResNet-18 and SqueezeNet
1.1 at an eighth and a half of their widths; the 1280/1024-channel last conv of MobileNetV2,
MNASNet and ShuffleNetV2 at 512).
"""

from __future__ import annotations

import argparse
import io
import sys
import warnings
from pathlib import Path

import torch
import torchvision
from torch import nn
from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf
from torchvision.models.resnet import BasicBlock
from torchvision.models.squeezenet import Fire
from torchvision.ops.misc import Conv2dNormActivation

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "torch_exports"
CLASSES = 10
DYNAMO_OPSET, LEGACY_OPSET = 18, 17


class SmallResNet18(nn.Module):
    """ResNet-18's layout (a 7x7/2 stem, max pool, four stages of two BasicBlocks, global average
    pool, linear) at an eighth of its width, for 64x64 inputs."""

    def __init__(self, width: int = 8, classes: int = CLASSES) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages, inplanes = [], width
        for i, planes in enumerate([width, 2 * width, 4 * width, 8 * width]):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or inplanes != planes:
                down = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
            stages += [BasicBlock(inplanes, planes, stride, down), BasicBlock(planes, planes)]
            inplanes = planes
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


class SmallSqueezeNet11(nn.Module):
    """SqueezeNet 1.1 (torchvision's Fire modules, its pooling positions, a 1x1 conv classifier and
    global average pool) with half the squeeze and expand widths."""

    def __init__(self, classes: int = CLASSES) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 32, 3, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(32, 8, 32, 32), Fire(64, 8, 32, 32), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), nn.MaxPool2d(3, 2, ceil_mode=True),
            Fire(128, 24, 96, 96), Fire(192, 24, 96, 96), Fire(192, 32, 128, 128), Fire(256, 32, 128, 128))
        self.classifier = nn.Sequential(nn.Conv2d(256, classes, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # torchvision's initialisation: PyTorch's default shrinks every layer's output, so
                # without BatchNorm the biases alone decide the result ten layers down
                nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return torch.flatten(self.classifier(self.features(x)), 1)


class KeywordSpotter1D(nn.Module):
    """A 1-D convolutional keyword spotter over 49 frames of 10 MFCCs: conv-BN-ReLU blocks along
    time, a max pool, global average pool, linear."""

    def __init__(self, classes: int = 12) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv1d(10, 32, 5, padding=2), nn.BatchNorm1d(32), nn.ReLU(),
            nn.Conv1d(32, 32, 3, stride=2, padding=1), nn.BatchNorm1d(32), nn.ReLU(),
            nn.MaxPool1d(2),
            nn.Conv1d(32, 48, 3, padding=1), nn.BatchNorm1d(48), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1))
        self.fc = nn.Linear(48, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.net(x), 1))


class DSCNNKeywordSpotter(nn.Module):
    """MLPerf Tiny's DS-CNN keyword spotter shape (a 10x4 conv over a 49x10 MFCC image, four
    depthwise-separable blocks, global average pool, linear) at 32 channels."""

    def __init__(self, channels: int = 32, classes: int = 12) -> None:
        super().__init__()
        layers = [nn.Conv2d(1, channels, (10, 4), (2, 2), (5, 1)), nn.BatchNorm2d(channels), nn.ReLU()]
        for _ in range(4):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, groups=channels), nn.BatchNorm2d(channels),
                       nn.ReLU(), nn.Conv2d(channels, channels, 1), nn.BatchNorm2d(channels), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


class RecurrentClassifier(nn.Module):
    """An LSTM or GRU over 20 steps of 8 features, classifying from the last step's output."""

    def __init__(self, cell: str, hidden: int = 32, classes: int = 6) -> None:
        super().__init__()
        self.rnn = (nn.LSTM if cell == "lstm" else nn.GRU)(8, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])


class ConvTransposeAutoencoder(nn.Module):
    """A 32x32 image autoencoder: strided convs down to 8x8, transposed convs back up."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU(),
                                     nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1), nn.BatchNorm2d(16),
                                     nn.ReLU(), nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


class LayerNormMLP(nn.Module):
    """A tabular/sensor MLP: linear, LayerNorm, ReLU, twice, then a linear classifier."""

    def __init__(self, features: int = 24, hidden: int = 64, classes: int = 5) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.LayerNorm(hidden), nn.ReLU(),
                                 nn.Linear(hidden, classes))

    def forward(self, x):
        return self.net(x)


class TinySegmenter(nn.Module):
    """A small encoder-decoder segmenter for 64x64 images: strided convs down, nearest and bilinear
    upsampling back up, a skip connection, per-pixel class logits."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.down1 = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.down2 = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.up1 = nn.Upsample(scale_factor=2, mode="nearest")
        self.mix = nn.Sequential(nn.Conv2d(32, 16, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.up2 = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.head = nn.Conv2d(16, classes, 3, padding=1)

    def forward(self, x):
        d1 = self.down1(x)
        return self.head(self.up2(self.mix(self.up1(self.down2(d1))) + d1))


def narrow_head(model: nn.Module, name: str, channels: int = 512) -> nn.Module:
    """The last 1x1 conv (1280 or 1024 channels in torchvision, most of the weights of a narrow
    network) and the classifier after it at `channels`, so that the file stays small."""
    if name == "mobilenet_v2_035":
        last = model.features[-1][0]
        model.features[-1] = Conv2dNormActivation(last.in_channels, channels, kernel_size=1,
                                                  activation_layer=nn.ReLU6)
        model.classifier[1] = nn.Linear(channels, CLASSES)
    elif name == "mnasnet_025":
        model.layers[-3] = nn.Conv2d(model.layers[-3].in_channels, channels, 1, bias=False)
        model.layers[-2] = nn.BatchNorm2d(channels)
        model.classifier[1] = nn.Linear(channels, CLASSES)
    elif name == "shufflenet_v2_05":
        model.conv5 = nn.Sequential(nn.Conv2d(model.conv5[0].in_channels, channels, 1, bias=False),
                                    nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        model.fc = nn.Linear(channels, CLASSES)
    return model


def build(name: str) -> tuple[nn.Module, tuple[int, ...]]:
    """The model called `name` and its input shape (batch 1)."""
    tv = torchvision.models
    if name == "mobilenet_v2_035":
        return narrow_head(tv.mobilenet_v2(weights=None, width_mult=0.35, num_classes=CLASSES), name), (1, 3, 96, 96)
    if name == "mobilenet_v3_small":
        settings, last = _mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.5, reduced_tail=True)
        return MobileNetV3(settings, last, num_classes=CLASSES), (1, 3, 96, 96)
    if name == "mnasnet_025":
        return narrow_head(tv.MNASNet(0.25, num_classes=CLASSES), name), (1, 3, 96, 96)
    if name == "shufflenet_v2_05":
        return narrow_head(tv.shufflenet_v2_x0_5(weights=None, num_classes=CLASSES), name), (1, 3, 64, 64)
    if name == "squeezenet_11":
        return SmallSqueezeNet11(), (1, 3, 64, 64)
    if name == "resnet18":
        return SmallResNet18(), (1, 3, 64, 64)
    if name == "efficientnet_b0":
        settings, last = _efficientnet_conf("efficientnet_b0", width_mult=0.2, depth_mult=1.0)
        return EfficientNet(settings, 0.2, num_classes=CLASSES, last_channel=last), (1, 3, 64, 64)
    if name == "kws_conv1d":
        return KeywordSpotter1D(), (1, 10, 49)
    if name == "kws_ds_cnn":
        return DSCNNKeywordSpotter(), (1, 1, 49, 10)
    if name == "lstm_classifier":
        return RecurrentClassifier("lstm"), (1, 20, 8)
    if name == "gru_classifier":
        return RecurrentClassifier("gru"), (1, 20, 8)
    if name == "convtranspose_autoencoder":
        return ConvTransposeAutoencoder(), (1, 1, 32, 32)
    if name == "layernorm_mlp":
        return LayerNormMLP(), (1, 24)
    if name == "resize_segmenter":
        return TinySegmenter(), (1, 3, 64, 64)
    raise KeyError(name)


MODELS = ["mobilenet_v2_035", "mobilenet_v3_small", "mnasnet_025", "shufflenet_v2_05", "squeezenet_11", "resnet18",
          "efficientnet_b0", "kws_conv1d", "kws_ds_cnn", "lstm_classifier", "gru_classifier",
          "convtranspose_autoencoder", "layernorm_mlp", "resize_segmenter"]


def prepared(name: str, seed: int) -> tuple[nn.Module, torch.Tensor]:
    """Random weights, BatchNorm statistics warmed in train mode on six random batches, then eval."""
    torch.manual_seed(seed)
    model, shape = build(name)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            # a cumulative average: the running statistics become those of the warm-up batches, not
            # 34% of the way there from (0, 1) as 4 steps of momentum 0.1 leave them, which in deep
            # networks scales the activations away until the output no longer depends on the input
            m.momentum = None
            m.reset_running_stats()
    model.train()
    with torch.no_grad():
        for _ in range(6):
            model(torch.randn((8,) + shape[1:]))
    model.eval()
    return model, torch.randn(shape)


def export(name: str, out: Path, seed: int) -> list[Path]:
    model, x = prepared(name, seed)
    paths = []
    for dynamo, opset, tag in ((True, DYNAMO_OPSET, "dynamo"), (False, LEGACY_OPSET, "legacy")):
        path = out / f"{name}_{tag}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kwargs = {"external_data": False} if dynamo else {}
            # the exporters print progress; keep the script's own output to one line per file
            sink = io.StringIO()
            stdout, sys.stdout = sys.stdout, sink
            try:
                torch.onnx.export(model, (x,), str(path), dynamo=dynamo, opset_version=opset,
                                  input_names=["x"], output_names=["y"], **kwargs)
            finally:
                sys.stdout = stdout
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--only", nargs="*", choices=MODELS, help="export only these models")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(MODELS):
        if args.only and name not in args.only:
            continue
        for path in export(name, args.out, seed=1000 + i):
            print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
