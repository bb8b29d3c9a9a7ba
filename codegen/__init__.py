"""mcugen: compile ONNX neural networks into bit-exact fixed-point C for microcontrollers."""

__version__ = "0.1.0"
