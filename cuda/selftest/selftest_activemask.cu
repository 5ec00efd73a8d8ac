// selftest_activemask.cu — which lanes __activemask() reports, and shuffles whose mask names lanes that do
// not take part. Grid (1), 1-D block of any size (a partial last warp too); t = threadIdx.x, lane = t % 32.
//
// selftest_activemask(converged, diverged, split):
//   converged[t] = __activemask() before any branch (every existing lane of the warp);
//   diverged[t]  = __activemask() inside `if (lane < split)` / its else branch, two different calls: the
//                  lanes of this thread's branch only.
//   split >= 0: both branches; split < 0: lanes >= -split return before their call, so the lanes below
//   -split are alone (diverged of the returned lanes stays untouched).
// selftest_shfl_misuse(out, mode): out[t] = value from lane 0 of the warp (= the warp's first t).
//   mode 0: every lane calls the same __shfl_sync (legal);
//   mode 1: lanes < 16 and lanes >= 16 call two different __shfl_sync with the full mask (not legal: the
//           mask names lanes that take part in another call);
//   mode 2: lanes >= 16 skip the shuffle and wait at __syncthreads (not legal: a hang on a GPU).
extern "C" __global__ void selftest_activemask(unsigned* converged, unsigned* diverged, int split) {
    const int t = threadIdx.x;
    const int lane = t & 31;
    converged[t] = __activemask();
    if (split < 0 && lane >= -split) return;
    unsigned m;
    if (lane < (split < 0 ? -split : split)) {
        m = __activemask();
    } else {
        m = __activemask();
    }
    diverged[t] = m;
}

extern "C" __global__ void selftest_shfl_misuse(float* out, int mode) {
    const int t = threadIdx.x;
    const int lane = t & 31;
    const float mine = (float)t;
    float v = -1.0f;
    if (mode == 0) {
        v = __shfl_sync(0xffffffffu, mine, 0);
    } else if (mode == 1) {
        if (lane < 16) {
            v = __shfl_sync(0xffffffffu, mine, 0);
        } else {
            v = __shfl_sync(0xffffffffu, mine, 0);
        }
    } else {
        if (lane < 16) v = __shfl_sync(0xffffffffu, mine, 0);
        __syncthreads();
    }
    out[t] = v;
}
