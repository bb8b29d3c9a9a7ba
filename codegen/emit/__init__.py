"""Code generation: the C library a model becomes, and the one place model text becomes C."""
