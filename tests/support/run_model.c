/*
 * run_model.c — test driver: feeds int8 input records from stdin through a generated model and
 * writes the int8 outputs to stdout, one record per inference. Compiled by the tests with
 * -DMODEL_HEADER='"name.h"' -DMODEL_INVOKE=name_invoke -DMODEL_INPUT_SIZE=... -DMODEL_OUTPUT_SIZE=...
 */
#include <stdint.h>
#include <stdio.h>

#include MODEL_HEADER

int main(void)
{
    static int8_t input[MODEL_INPUT_SIZE];
    static int8_t output[MODEL_OUTPUT_SIZE];
    while (fread(input, 1, sizeof input, stdin) == sizeof input) {
        if (MODEL_INVOKE(input, output) != 0) return 2;
        if (fwrite(output, 1, sizeof output, stdout) != sizeof output) return 3;
    }
    return 0;
}
