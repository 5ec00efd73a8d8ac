// selftest_bounds.cu — single accesses at a chosen index, so tests can check which out-of-bounds accesses of
// global memory the emulated device catches (CUDA_ERROR_ILLEGAL_ADDRESS) and which in-bounds ones it must let
// through. Every kernel: grid (1), block (1), no shared memory; index is an element index into the buffer and
// may be negative or past its end on purpose.
//
// selftest_read_at(in, out, index):        out[0] = in[index]                 (a 4-byte load)
// selftest_write_at(out, index, value):    out[index] = value                 (a 4-byte store)
// selftest_load_vec4_at(in, out, index):   out[0..3] = ((const float4*)(in + index))[0]
//                                          (one 16-byte load; index must be a multiple of 4: it is the
//                                          last full vector of a tail when the buffer ends mid-vector)
extern "C" __global__ void selftest_read_at(const float* in, float* out, int index) {
    out[0] = in[index];
}

extern "C" __global__ void selftest_write_at(float* out, int index, int value) {
    out[index] = (float)value;
}

extern "C" __global__ void selftest_load_vec4_at(const float* in, float* out, int index) {
    const float4 v = *reinterpret_cast<const float4*>(in + index);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
}
