/*
 * run_model.c — test driver: feeds input records from stdin through a generated model and
 * writes the outputs to stdout, one record per inference. Compiled by the tests with
 * -DMODEL_HEADER='"name.h"' -DMODEL_INVOKE=name_invoke -DMODEL_INPUT_SIZE=... -DMODEL_OUTPUT_SIZE=...
 * (sizes in bytes) and, for a weight-only model, -DMODEL_IO_TYPE=float (int8_t otherwise).
 */
#include <stdint.h>
#include <stdio.h>

#include MODEL_HEADER

#ifndef MODEL_IO_TYPE
#define MODEL_IO_TYPE int8_t
#endif

int main(void)
{
    static MODEL_IO_TYPE input[MODEL_INPUT_SIZE / sizeof(MODEL_IO_TYPE)];
    static MODEL_IO_TYPE output[MODEL_OUTPUT_SIZE / sizeof(MODEL_IO_TYPE)];
    while (fread(input, 1, sizeof input, stdin) == sizeof input) {
        if (MODEL_INVOKE(input, output) != 0) return 2;
        if (fwrite(output, 1, sizeof output, stdout) != sizeof output) return 3;
    }
    return 0;
}
