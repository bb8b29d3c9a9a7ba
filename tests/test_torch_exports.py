"""Real PyTorch exports (issue #13): the 14 architectures of tests/fixtures/torch_exports, each from
both exporters (torch.onnx.export's default dynamo one at opset 18 and the legacy one at opset 17),
made by scripts/export_torch_models.py with random weights and warmed BatchNorm statistics.

Every fixture either compiles (random calibration) to C that is bit-exact with the golden reference
on the host and within cosine 0.99 of ONNX Runtime, or is refused in one sentence that names only
operators still being added (REFUSAL_OPERATORS). A model that starts to compile must then be exact;
one of those that compile today (everything not in STILL_REFUSED) may not start being refused.
"""

from __future__ import annotations

import pytest
from torch_fixtures import evaluate, fixtures

# Operators the still-refused exports need, being added in parallel: slicing (ShuffleNet's channel
# split), 1-D convolution and pooling, recurrent layers (and the Gather/Squeeze/Expand/Transpose/
# Reshape around them, whose outputs have no batch axis of 1 first), upsampling and normalisation.
REFUSAL_OPERATORS = {"Slice", "Split", "Gather", "Squeeze", "Expand", "Transpose", "Reshape", "Conv", "MaxPool",
                     "AveragePool", "GlobalAveragePool", "LSTM", "GRU", "ConvTranspose", "Resize",
                     "LayerNormalization"}

# fixture → why it is refused when this was written (each flips when its operator lands)
STILL_REFUSED = {
    "shufflenet_v2_05_dynamo": "Split (channel shuffle)",
    "shufflenet_v2_05_legacy": "Slice (channel shuffle)",
    "kws_conv1d_dynamo": "1-D Conv and MaxPool",
    "kws_conv1d_legacy": "1-D Conv, MaxPool and GlobalAveragePool",
    "lstm_classifier_dynamo": "LSTM; Gather of the last step; Transpose/Reshape of its sequence-first output",
    "lstm_classifier_legacy": "LSTM; Gather of the last step; Expand/Squeeze/Transpose around it",
    "gru_classifier_dynamo": "GRU; Gather of the last step; Transpose/Reshape of its sequence-first output",
    "gru_classifier_legacy": "GRU; Gather of the last step; Expand/Squeeze/Transpose around it",
    "convtranspose_autoencoder_dynamo": "ConvTranspose",
    "convtranspose_autoencoder_legacy": "ConvTranspose",
    "layernorm_mlp_dynamo": "LayerNormalization",
    "layernorm_mlp_legacy": "LayerNormalization",
    "resize_segmenter_dynamo": "Resize (nearest and bilinear)",
    "resize_segmenter_legacy": "Resize (nearest and bilinear)",
}

FIXTURES = fixtures()


def test_the_fixtures_are_there():
    """14 architectures, two exporters each; the refusal list names only fixtures that exist."""
    names = {p.stem for p in FIXTURES}
    assert len(names) == 28
    assert set(STILL_REFUSED) <= names


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_torch_export_is_exact_or_refused_by_name(path, tmp_path):
    outcome = evaluate(path, tmp_path, samples=4)
    if outcome.compiled:
        assert outcome.bit_exact, "the generated C differs from the golden reference"
        assert outcome.cosine >= 0.99, f"cosine {outcome.cosine:.4f} against ONNX Runtime"
        return
    assert path.stem in STILL_REFUSED, f"{path.stem} compiled before and is refused now: {outcome.message}"
    assert "\n" not in outcome.message and outcome.refused, outcome.message
    unknown = set(outcome.refused) - REFUSAL_OPERATORS
    assert not unknown, f"refused for operators nobody is adding: {sorted(unknown)} ({outcome.message[:300]})"
