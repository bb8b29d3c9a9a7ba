"""Model readers: each turns a model file into the float graph (`mcugen.ir.Graph`)."""
