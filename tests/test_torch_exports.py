"""Real PyTorch exports (issue #13): the 14 architectures of tests/fixtures/torch_exports, each from
both exporters (torch.onnx.export's default dynamo one at opset 18 and the legacy one at opset 17),
made by scripts/export_torch_models.py with random weights and warmed BatchNorm statistics.

Every fixture compiles (random calibration): its float graph equal to ONNX Runtime (cosine >= 0.9999),
the generated C bit-exact with the golden reference on the host, the int8 outputs within cosine 0.99
of ONNX Runtime. None may start being refused (STILL_REFUSED is empty).

The int8 target is judged against the float network's own fragility (tests/torch_fixtures.py):
wherever ONNX Runtime fed the input plus uniform noise of half the int8 input step stays within
cosine ROBUST = 0.999 of its clean outputs, int8 must reach 0.99 — no exemption. INT8_BELOW_099 may
hold only models below that robustness (asserted). Measured (8 samples,
scripts/torch_models_table.py): input rounding alone gives EfficientNet-B0 0.978, ShuffleNetV2 0.772,
MNASNet 0.944, MobileNetV2 0.983, MobileNetV3-small 0.9958 — every other fixture >= 0.9998 but
ResNet-18 (0.9973, int8 0.9962 all the same). With random weights a deep network's globally pooled
features are nearly the same for every input and the classifier reads the small part that differs;
int8 noise enters at every layer, not just the input, and these networks amplify it.

That the loss is the int8 grid and not mcugen's arithmetic is asserted too: the network run in float
with every activation rounded ideally to mcugen's own int8 scales (weights float) gives EfficientNet
0.731, ShuffleNetV2 0.778, MNASNet 0.935, MobileNetV2 0.965, MobileNetV3 0.932 — mcugen's integer
code gives 0.795, 0.779 / 0.763, 0.922, 0.952, 0.937; its output SNR may fall at most IDEAL_MARGIN_DB
below the yardstick's (its weights are int8 as well: int8 weights alone cost MobileNetV2 0.978).
Per-layer SNR says the same: every layer's output is within a few dB of ideal rounding of it, the
SNR falls layer by layer, and in EfficientNet the squeeze-excite vectors are 8-14 dB even ideally
rounded (a few channels set the range). What was mcugen's: SiLU as Sigmoid then Mul rounded twice;
it is one table now (0.782 -> 0.795).
Trained weights are what these networks ship with; the set says where random ones do not reach 0.99.
(Before the BatchNorm warm-up used a cumulative average, these outputs were constants — spread
1e-7 — and every cosine was a trivial 1.0000; the test now also checks the outputs vary.)
"""

from __future__ import annotations

import pytest
from torch_fixtures import evaluate, fixtures

# Every fixture compiles: the last refusals (the legacy exporter's LSTM/GRU, whose h0/c0 zeros it
# Expands to a shape computed by Shape/Gather/Concat) went when Expand of constants was folded.
STILL_REFUSED: dict[str, str] = {}

# int8 cosine against ONNX Runtime below 0.99 with random weights, each fragile in float itself (input
# rounding alone < ROBUST; see the module docstring), 8 samples: EfficientNet-B0 0.795, MNASNet 0.922,
# MobileNetV3-small 0.937, MobileNetV2 0.952, ShuffleNetV2 0.779 / 0.763 (dynamo / legacy)
INT8_BELOW_099 = {f"{model}_{exporter}" for model in ("efficientnet_b0", "mnasnet_025", "mobilenet_v3_small",
                                                       "mobilenet_v2_035", "shufflenet_v2_05")
                  for exporter in ("dynamo", "legacy")}

# The float network's own fragility (torch_fixtures.input_rounding_cosine): where input rounding alone
# keeps ONNX Runtime's outputs within this cosine of the clean ones, int8 must reach 0.99, no exemption.
ROBUST = 0.999
# how far below ideal rounding of the activations (torch_fixtures.ideally_rounded_outputs) mcugen's
# output SNR over all samples may come (dB; a worst-sample cosine is too unsteady to compare two runs
# by): its weights are int8 too. Measured gaps, 4 samples: MobileNetV3 3.3 (dynamo) / 1.9 (legacy),
# MNASNet 1.8, ShuffleNet 1.0, the others at or above ideal (EfficientNet +0.3, MobileNetV2 +0.25).
# int8 weights alone (float32 activations) give MobileNetV3 26.1 dB and MNASNet 17.8 dB: added to the
# ideal activations' noise that leaves 2.3 dB (MobileNetV3) and 0.9 dB (MNASNet) unexplained — not yet
# found where; a regression beyond that fails here.
IDEAL_MARGIN_DB = 4.0

FIXTURES = fixtures()


def test_the_fixtures_are_there():
    """14 architectures, two exporters each; the refusal list names only fixtures that exist."""
    names = {p.stem for p in FIXTURES}
    assert len(names) == 28
    assert set(STILL_REFUSED) | INT8_BELOW_099 <= names


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_torch_export_is_exact_or_refused_by_name(path, tmp_path):
    outcome = evaluate(path, tmp_path, samples=4)
    if outcome.compiled:
        assert outcome.bit_exact, "the generated C differs from the golden reference"
        # a cosine means something only when the outputs depend on the inputs (random weights can
        # leave a deep network's output a constant its biases decide)
        assert outcome.spread > 0.05, f"ONNX Runtime's outputs hardly vary over inputs ({outcome.spread:.2g})"
        assert outcome.float_cosine >= 0.9999, f"float graph: cosine {outcome.float_cosine:.6f} against ONNX Runtime"
        # mcugen's integer arithmetic loses little more than ideal rounding to the same int8 grid would
        assert outcome.snr >= outcome.ideal_snr - IDEAL_MARGIN_DB, \
            f"int8 output SNR {outcome.snr:.2f} dB, ideally rounded activations {outcome.ideal_snr:.2f} dB"
        if outcome.noise_cosine >= ROBUST:  # a network its own input rounding hardly moves: int8 must reach 0.99
            assert path.stem not in INT8_BELOW_099, \
                f"listed as fragile, but input rounding moves it only to cosine {outcome.noise_cosine:.5f}"
            assert outcome.cosine >= 0.99, f"int8: cosine {outcome.cosine:.4f} against ONNX Runtime " \
                f"(input rounding alone: {outcome.noise_cosine:.5f})"
        elif path.stem not in INT8_BELOW_099:
            assert outcome.cosine >= 0.99, f"int8: cosine {outcome.cosine:.4f} against ONNX Runtime"
        return
    assert path.stem in STILL_REFUSED, f"{path.stem} compiled before and is refused now: {outcome.message}"
    assert "\n" not in outcome.message and outcome.refused, outcome.message
