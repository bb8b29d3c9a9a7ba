/*
 * mcugen_slice_f32.c — float32 strided copy: Slice, Split and Gather with constant indices
 *
 *   output[output_offset + i0 * os[0] + i1 * os[1] + i2 * os[2] + i3 * os[3]]
 *       = input[input_offset + i0 * is[0] + i1 * is[1] + i2 * is[2] + i3 * is[3]]
 *
 * for every i within dims. Values are copied unchanged (the output keeps the input's
 * quantization). Not safe in place. Numpy twin: codegen/ops/slice.py.
 */
#include "mcugen_slice_f32.h"

void mcugen_slice_f32(const mcugen_slice_f32_params_t *p, const float *input, float *output)
{
    int32_t i0, i1, i2, i3;
    for (i0 = 0; i0 < p->dims[0]; ++i0) {
        for (i1 = 0; i1 < p->dims[1]; ++i1) {
            for (i2 = 0; i2 < p->dims[2]; ++i2) {
                const float *src = input + p->input_offset + i0 * p->input_strides[0]
                                 + i1 * p->input_strides[1] + i2 * p->input_strides[2];
                float *dst = output + p->output_offset + i0 * p->output_strides[0]
                           + i1 * p->output_strides[1] + i2 * p->output_strides[2];
                for (i3 = 0; i3 < p->dims[3]; ++i3) {
                    dst[i3 * p->output_strides[3]] = src[i3 * p->input_strides[3]];
                }
            }
        }
    }
}
