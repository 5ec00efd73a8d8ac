package io.attnrt.backend.cpu;

import io.attnrt.tensor.HalfFloats;

/**
 * Plain-Java kernels: the fallback when the Vector API module is absent or SIMD is switched off. Loops
 * keep a few independent accumulators so the JIT can overlap the floating-point latency.
 */
final class ScalarKernels implements Kernels {
    private static final int KEY_TILE = 32;
    private static final int ROW_TILE = 16;

    @Override
    public String describe() {
        return "scalar";
    }

    @Override
    public int lanes() {
        return 1;
    }

    @Override
    public int keyTile() {
        return KEY_TILE;
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0;
        for (; i + 4 <= n; i += 4) {
            s0 += a[aOff + i] * b[bOff + i];
            s1 += a[aOff + i + 1] * b[bOff + i + 1];
            s2 += a[aOff + i + 2] * b[bOff + i + 2];
            s3 += a[aOff + i + 3] * b[bOff + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[aOff + i] * b[bOff + i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public float sumOfSquares(float[] a, int off, int n) {
        return dot(a, off, a, off, n);
    }

    @Override
    public void scaleMul(float[] x, int xOff, float s, float[] w, int wOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) {
            out[outOff + i] = x[xOff + i] * s * w[wOff + i];
        }
    }

    @Override
    public void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) {
            out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
    }

    @Override
    public void swiglu(float[] g, int gOff, float[] u, int uOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) {
            float x = g[gOff + i];
            // exp(-x) overflows to +inf for x < -88.7: x / inf is -0, the right limit, never NaN
            out[outOff + i] = x / (1f + (float) Math.exp(-x)) * u[uOff + i];
        }
    }

    @Override
    public void scale(float[] a, int off, int n, float s) {
        for (int i = 0; i < n; i++) {
            a[off + i] *= s;
        }
    }

    @Override
    public void copyScaled(float[] src, int srcOff, float s, float[] dst, int dstOff, int n) {
        for (int i = 0; i < n; i++) {
            dst[dstOff + i] = src[srcOff + i] * s;
        }
    }

    @Override
    public void toFloat(short[] src, int srcOff, boolean bf16, float[] dst, int dstOff, int n) {
        if (bf16) {
            for (int i = 0; i < n; i++) {
                dst[dstOff + i] = Float.intBitsToFloat(src[srcOff + i] << 16);
            }
        } else {
            for (int i = 0; i < n; i++) {
                dst[dstOff + i] = HalfFloats.f16ToFloat(src[srcOff + i]);
            }
        }
    }

    @Override
    public void dequantize(io.attnrt.tensor.DType type, byte[] src, int at, float[] dst, int dstOff, int n) {
        io.attnrt.tensor.Quant.dequantize(type, src, at, dst, dstOff, n);
    }

    @Override
    public boolean fusesQuantizedDot(io.attnrt.tensor.DType type) {
        return false;
    }

    @Override
    public float dotQuantized(io.attnrt.tensor.DType type, byte[] w, int at, float[] x, int xOff, int n,
                              float[] xSums) {
        throw new UnsupportedOperationException("the scalar kernels decode quantized rows into scratch");
    }

    @Override
    public float fmaRounds(long iterations, float seed) {
        float a0 = seed, a1 = seed + 1, a2 = seed + 2, a3 = seed + 3, a4 = seed + 4, a5 = seed + 5;
        float a6 = seed + 6, a7 = seed + 7, a8 = seed + 8, a9 = seed + 9, a10 = seed + 10, a11 = seed + 11;
        for (long i = 0; i < iterations; i++) {
            a0 = Math.fma(a0, 0.9999999f, 1e-7f);
            a1 = Math.fma(a1, 0.9999999f, 1e-7f);
            a2 = Math.fma(a2, 0.9999999f, 1e-7f);
            a3 = Math.fma(a3, 0.9999999f, 1e-7f);
            a4 = Math.fma(a4, 0.9999999f, 1e-7f);
            a5 = Math.fma(a5, 0.9999999f, 1e-7f);
            a6 = Math.fma(a6, 0.9999999f, 1e-7f);
            a7 = Math.fma(a7, 0.9999999f, 1e-7f);
            a8 = Math.fma(a8, 0.9999999f, 1e-7f);
            a9 = Math.fma(a9, 0.9999999f, 1e-7f);
            a10 = Math.fma(a10, 0.9999999f, 1e-7f);
            a11 = Math.fma(a11, 0.9999999f, 1e-7f);
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    }

    @Override
    public double sum(float[] a, int from, int to) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = from;
        for (; i + 4 <= to; i += 4) {
            s0 += a[i];
            s1 += a[i + 1];
            s2 += a[i + 2];
            s3 += a[i + 3];
        }
        for (; i < to; i++) {
            s0 += a[i];
        }
        return (double) s0 + s1 + s2 + s3;
    }

    @Override
    public void linearF32(float[] x, int xOff, int xStride, int tokens, float[] w, int wOff, int wStride, int rows,
                          int len, float[] out, int outOff, int outStride, boolean accumulate) {
        for (int r = 0; r < rows; r++) {
            for (int t = 0; t < tokens; t++) {
                float s = dot(x, xOff + t * xStride, w, wOff + r * wStride, len);
                int o = outOff + t * outStride + r;
                out[o] = accumulate ? out[o] + s : s;
            }
        }
    }

    @Override
    public void linear16(float[] x, int xOff, int xStride, int tokens, short[] w, boolean bf16, boolean finite,
                         int wOff, int wStride, int rows, int len, float[] out, int outOff, int outStride,
                         boolean accumulate) {
        for (int r = 0; r < rows; r++) {
            int wr = wOff + r * wStride;
            for (int t = 0; t < tokens; t++) {
                int xr = xOff + t * xStride;
                float s0 = 0, s1 = 0;
                int i = 0;
                if (bf16) {
                    for (; i + 2 <= len; i += 2) {
                        s0 += x[xr + i] * Float.intBitsToFloat(w[wr + i] << 16);
                        s1 += x[xr + i + 1] * Float.intBitsToFloat(w[wr + i + 1] << 16);
                    }
                    for (; i < len; i++) {
                        s0 += x[xr + i] * Float.intBitsToFloat(w[wr + i] << 16);
                    }
                } else {
                    for (; i + 2 <= len; i += 2) {
                        s0 += x[xr + i] * HalfFloats.f16ToFloat(w[wr + i]);
                        s1 += x[xr + i + 1] * HalfFloats.f16ToFloat(w[wr + i + 1]);
                    }
                    for (; i < len; i++) {
                        s0 += x[xr + i] * HalfFloats.f16ToFloat(w[wr + i]);
                    }
                }
                int o = outOff + t * outStride + r;
                out[o] = accumulate ? out[o] + s0 + s1 : s0 + s1;
            }
        }
    }

    @Override
    public int rowTile() {
        return ROW_TILE;
    }

    @Override
    public int tileTokens() {
        return 4;
    }

    @Override
    public void packTransposed(float[] src, int base, int stride, int rows, int len, float[] wt, int tile,
                               int[] index) {
        packColumns(src, base, stride, 0, rows, tile, len, wt);
    }

    /**
     * Rows {@code [r0, tile)} of {@link Kernels#packTransposed}, zero from {@code rows} on. Written in runs of
     * 16 inputs so that all rows of a run land in the same 16·tile floats (in L1) instead of one column at a
     * time striding over the whole slice.
     */
    static void packColumns(float[] src, int base, int stride, int r0, int rows, int tile, int len, float[] wt) {
        for (int i0 = 0; i0 < len; i0 += 16) {
            int i1 = Math.min(len, i0 + 16);
            for (int r = r0; r < tile; r++) {
                if (r >= rows) {
                    for (int i = i0; i < i1; i++) {
                        wt[i * tile + r] = 0f;
                    }
                    continue;
                }
                int off = base + r * stride;
                for (int i = i0; i < i1; i++) {
                    wt[i * tile + r] = src[off + i];
                }
            }
        }
    }

    @Override
    public void linearTile(float[] x, int xOff, int xStride, int tokens, float[] wt, int len, float[] out, int outOff,
                           int outStride, int rows, boolean accumulate, float[] stage) {
        float[] acc = stage;
        for (int t = 0; t < tokens; t++) {
            java.util.Arrays.fill(acc, 0, ROW_TILE, 0f);
            int xr = xOff + t * xStride;
            for (int i = 0; i < len; i++) {
                float xi = x[xr + i];
                int wr = i * ROW_TILE;
                for (int r = 0; r < ROW_TILE; r++) {
                    acc[r] += xi * wt[wr + r];
                }
            }
            int o = outOff + t * outStride;
            for (int r = 0; r < rows; r++) {
                out[o + r] = accumulate ? out[o + r] + acc[r] : acc[r];
            }
        }
    }

    @Override
    public boolean finiteHalves(short[] a, int from, int to) {
        for (int i = from; i < to; i++) {
            if ((a[i] & 0x7c00) == 0x7c00) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void scoresTransposed(float[] q, int qOff, int rows, int d, float[] kt, float[] s) {
        for (int r = 0; r < rows; r++) {
            int sr = r * KEY_TILE;
            java.util.Arrays.fill(s, sr, sr + KEY_TILE, 0f);
            for (int c = 0; c < d; c++) {
                float qc = q[qOff + r * d + c];
                int kc = c * KEY_TILE;
                for (int j = 0; j < KEY_TILE; j++) {
                    s[sr + j] += qc * kt[kc + j];
                }
            }
        }
    }

    @Override
    public void scoresDot(float[] q, int qOff, int rows, int d, float[] k, int[] kOffs, int count, float[] s) {
        for (int r = 0; r < rows; r++) {
            for (int j = 0; j < count; j++) {
                s[r * KEY_TILE + j] = dot(q, qOff + r * d, k, kOffs[j], d);
            }
        }
    }

    @Override
    public float max(float[] a, int off, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            m = Math.max(m, a[off + i]);
        }
        return m;
    }

    @Override
    public int firstAbove(float[] a, int from, int to, float threshold) {
        for (int i = from; i < to; i++) {
            if (!(a[i] <= threshold)) {
                return i;
            }
        }
        return to;
    }

    @Override
    public float expShiftSum(float[] a, int off, int n, float m) {
        float sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(a[off + i] - m);
            a[off + i] = e;
            sum += e;
        }
        return sum;
    }

    @Override
    public void accumulatePV(float[] p, int rows, int count, float[] v, int[] vOffs, float[] acc, int accOff, int d) {
        for (int r = 0; r < rows; r++) {
            int ar = accOff + r * d;
            for (int j = 0; j < count; j++) {
                float pj = p[r * KEY_TILE + j];
                if (pj == 0f) {
                    continue;
                }
                int vr = vOffs[j];
                for (int c = 0; c < d; c++) {
                    acc[ar + c] += pj * v[vr + c];
                }
            }
        }
    }
}
