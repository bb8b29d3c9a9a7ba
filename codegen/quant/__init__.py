"""Quantization and everything that chooses or judges it: calibration, precision plans, bias
correction, evaluation, sensitivity, mixed precision, sweeps, QDQ export."""
