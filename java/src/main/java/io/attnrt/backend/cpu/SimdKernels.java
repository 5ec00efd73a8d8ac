package io.attnrt.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels on the incubating Vector API at the platform's preferred width (512-bit on AVX-512). Loaded
 * reflectively by {@link CpuBackend} only when {@code jdk.incubator.vector} is present.
 *
 * <p>Reductions keep several independent accumulators (4×4 register tiles in the linear and score kernels)
 * so that FMA latency is hidden and each weight or key vector loaded is used several times. Row and token
 * tails are handled by clamping indices onto the last valid one: the duplicate lanes compute and store
 * identical values, which is cheaper than separate tail kernels.
 */
final class SimdKernels implements Kernels {
    static final VectorSpecies<Float> F = species(CpuBackend.simdBits());
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final int L = F.length();
    private static final boolean QUANT_SIMD = QuantSimd.supported();
    /**
     * Vector registers C2 allocates: 32 with AVX-512 (UseAVX ≥ 3, EVEX encodes zmm16-31) and on AArch64,
     * 16 with AVX/AVX2. Register tiles are sized from it: a tile needing more spills to the stack in its
     * innermost loop. {@code -Dattnrt.cpu.vectorRegisters=16|32} forces one (the tests run both).
     */
    static final int VECTOR_REGISTERS = detectVectorRegisters();
    static final int KEY_TILE = 4 * L;

    // exp(x) = 2^n · e^r with n = round(x / ln 2), |r| ≤ ln2/2; Cephes expf polynomial, ~1 ulp.
    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float EXP_HI = 88.3762626647949f;
    private static final float EXP_LO = -87.3365447504f;
    private static final float ROUND_MAGIC = 12582912f; // 1.5 · 2^23: adding it rounds to an integer
    private static final float P0 = 1.9875691500E-4f;
    private static final float P1 = 1.3981999507E-3f;
    private static final float P2 = 8.3334519073E-3f;
    private static final float P3 = 4.1665795894E-2f;
    private static final float P4 = 1.6666665459E-1f;
    private static final float P5 = 5.0000001201E-1f;

    /**
     * The float species for a forced width in bits, or the platform's preferred one for 0. A static final
     * field, so C2 sees a constant species and compiles the kernels to single instructions; forcing a width the
     * hardware lacks (512 on AVX2) stays correct through the Vector API's Java fallback, only slower — which is
     * how the tests cover every width on any host.
     */
    private static VectorSpecies<Float> species(int bits) {
        return switch (bits) {
            case 0 -> FloatVector.SPECIES_PREFERRED;
            case 128 -> FloatVector.SPECIES_128;
            case 256 -> FloatVector.SPECIES_256;
            case 512 -> FloatVector.SPECIES_512;
            default -> throw new IllegalArgumentException("unsupported SIMD width " + bits);
        };
    }

    private static int detectVectorRegisters() {
        String forced = System.getProperty("attnrt.cpu.vectorRegisters");
        if (forced != null && !forced.isBlank()) {
            if (!forced.trim().equals("16") && !forced.trim().equals("32")) {
                throw new IllegalArgumentException("system property attnrt.cpu.vectorRegisters must be 16 or 32, got '"
                        + forced + "'");
            }
            return Integer.parseInt(forced.trim());
        }
        String arch = System.getProperty("os.arch", "");
        if (!arch.equals("amd64") && !arch.equals("x86_64")) {
            return 32; // AArch64 has 32 SIMD registers; elsewhere the Vector API's tiles are not register-bound
        }
        try {
            com.sun.management.HotSpotDiagnosticMXBean vm = java.lang.management.ManagementFactory
                    .getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
            return Integer.parseInt(vm.getVMOption("UseAVX").getValue()) >= 3 ? 32 : 16;
        } catch (RuntimeException | LinkageError e) {
            return 16; // not HotSpot: assume the smaller register file
        }
    }

    SimdKernels() {
        if (S.length() != L || I.length() != L) {
            throw new IllegalStateException("unexpected vector species: " + F + " / " + S + " / " + I);
        }
    }

    @Override
    public int lanes() {
        return L;
    }

    @Override
    public int keyTile() {
        return KEY_TILE;
    }

    @Override
    public String describe() {
        return "SIMD " + F.vectorBitSize() + "-bit (" + L + " float lanes)";
    }

    /** Vector registers the tiles are sized for (see {@link #VECTOR_REGISTERS}). */
    int vectorRegisters() {
        return VECTOR_REGISTERS;
    }

    // ------------------------------------------------------------ helpers

    /** e^x lane-wise; lanes below the float range (including −∞) give exactly 0. */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> underflow = x.compare(VectorOperators.LT, EXP_LO);
        FloatVector xc = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = xc.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND_MAGIC));
        FloatVector n = t.sub(ROUND_MAGIC);
        IntVector ni = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND_MAGIC));
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = r.fma(FloatVector.broadcast(F, P0), FloatVector.broadcast(F, P1));
        p = p.fma(r, FloatVector.broadcast(F, P2));
        p = p.fma(r, FloatVector.broadcast(F, P3));
        p = p.fma(r, FloatVector.broadcast(F, P4));
        p = p.fma(r, FloatVector.broadcast(F, P5));
        p = p.fma(r.mul(r), r.add(1f));
        FloatVector pow2 = ni.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(pow2).blend(0f, underflow);
    }

    /** L bfloat16 values as floats: the bits shifted into the high half, exact. */
    static FloatVector loadBf16(short[] a, int off) {
        IntVector h = (IntVector) ShortVector.fromArray(S, a, off).convertShape(VectorOperators.S2I, I, 0);
        return h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * L IEEE half values as floats, exact. With the half in the top 16 bits of an int, its exponent and
     * mantissa shifted down by 3 land in float position; multiplying by 2^112 rebiases the exponent, which
     * is exact for normals and subnormals alike. Inf/NaN (exponent 31, i.e. em ≥ 0x7c00·2^16) instead get
     * the float's all-ones exponent: adding 0x0400·2^16 carries into the sign bit exactly for those, and an
     * arithmetic shift turns that bit into a mask (cheaper than compare-and-blend on AVX-512). Too big for C2
     * to inline more than a couple of copies into one loop, so the half kernels keep to one row.
     */
    static FloatVector loadF16(short[] a, int off) {
        IntVector top = ((IntVector) ShortVector.fromArray(S, a, off).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16);
        IntVector em = top.and(0x7fff0000);
        IntVector infNan = em.add(0x04000000).lanewise(VectorOperators.ASHR, 31).and(0x7f800000);
        return em.lanewise(VectorOperators.LSHR, 3).reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts()
                .or(top.and(0x80000000)).or(infNan).reinterpretAsFloats();
    }

    /**
     * As {@link #loadF16} for halves known not to be Inf/NaN: the sign-extended half shifted to the top and
     * arithmetically back down by 3 leaves sign | exponent·mantissa « 13 after one mask, and the 2^112
     * rebias keeps the sign. Exact for normals, subnormals and signed zeros; about 1.7x cheaper.
     */
    static FloatVector loadF16Finite(short[] a, int off) {
        return ((IntVector) ShortVector.fromArray(S, a, off).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 3).and(0x8FFFE000)
                .reinterpretAsFloats().mul(0x1p112f);
    }

    @Override
    public boolean finiteHalves(short[] a, int from, int to) {
        VectorSpecies<Short> ss = ShortVector.SPECIES_PREFERRED;
        int n = ss.length();
        ShortVector worst = ShortVector.zero(ss);
        int i = from;
        for (; i + n <= to; i += n) {
            worst = worst.max(ShortVector.fromArray(ss, a, i).and((short) 0x7c00));
        }
        boolean finite = worst.reduceLanes(VectorOperators.MAX) != 0x7c00;
        for (; i < to && finite; i++) {
            finite = (a[i] & 0x7c00) != 0x7c00;
        }
        return finite;
    }

    private static float bf16(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    private static float f16(short h, boolean bf16) {
        return bf16 ? Float.intBitsToFloat(h << 16) : io.attnrt.tensor.HalfFloats.f16ToFloat(h);
    }

    // ------------------------------------------------------------ element-wise

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
            s1 = FloatVector.fromArray(F, a, aOff + i + L).fma(FloatVector.fromArray(F, b, bOff + i + L), s1);
        }
        for (; i + L <= n; i += L) {
            s0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), s0);
        }
        float s = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    @Override
    public float sumOfSquares(float[] a, int off, int n) {
        return dot(a, off, a, off, n);
    }

    @Override
    public void scaleMul(float[] x, int xOff, float s, float[] w, int wOff, float[] out, int outOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, x, xOff + i).mul(s).mul(FloatVector.fromArray(F, w, wOff + i))
                    .intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = x[xOff + i] * s * w[wOff + i];
        }
    }

    @Override
    public void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, a, aOff + i).add(FloatVector.fromArray(F, b, bOff + i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = a[aOff + i] + b[bOff + i];
        }
    }

    @Override
    public void swiglu(float[] g, int gOff, float[] u, int uOff, float[] out, int outOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector x = FloatVector.fromArray(F, g, gOff + i);
            // exp(-x) saturates at e^88 for very negative x, so the quotient tends to -0 instead of NaN
            FloatVector silu = x.div(exp(x.neg()).add(1f));
            silu.mul(FloatVector.fromArray(F, u, uOff + i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float x = g[gOff + i];
            out[outOff + i] = x / (1f + (float) Math.exp(-x)) * u[uOff + i];
        }
    }

    @Override
    public void scale(float[] a, int off, int n, float s) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, a, off + i).mul(s).intoArray(a, off + i);
        }
        for (; i < n; i++) {
            a[off + i] *= s;
        }
    }

    @Override
    public void copyScaled(float[] src, int srcOff, float s, float[] dst, int dstOff, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, src, srcOff + i).mul(s).intoArray(dst, dstOff + i);
        }
        for (; i < n; i++) {
            dst[dstOff + i] = src[srcOff + i] * s;
        }
    }

    @Override
    public void toFloat(short[] src, int srcOff, boolean bf16, float[] dst, int dstOff, int n) {
        int i = 0;
        if (bf16) {
            for (; i + L <= n; i += L) {
                loadBf16(src, srcOff + i).intoArray(dst, dstOff + i);
            }
        } else {
            for (; i + L <= n; i += L) {
                loadF16(src, srcOff + i).intoArray(dst, dstOff + i);
            }
        }
        for (; i < n; i++) {
            dst[dstOff + i] = f16(src[srcOff + i], bf16);
        }
    }

    @Override
    public void dequantize(io.attnrt.tensor.DType type, byte[] src, int at, float[] dst, int dstOff, int n) {
        if (QUANT_SIMD) {
            QuantSimd.dequantize(type, src, at, dst, dstOff, n);
        } else {
            io.attnrt.tensor.Quant.dequantize(type, src, at, dst, dstOff, n);
        }
    }

    @Override
    public boolean fusesQuantizedDot(io.attnrt.tensor.DType type) {
        return QUANT_SIMD && QuantSimd.fusedDot(type);
    }

    @Override
    public float dotQuantized(io.attnrt.tensor.DType type, byte[] w, int at, float[] x, int xOff, int n,
                              float[] xSums) {
        return QuantSimd.dot(type, w, at, x, xOff, n, xSums);
    }

    @Override
    public float fmaRounds(long iterations, float seed) {
        // 12 chains: enough to cover FMA latency × throughput (4 cycles × 2 units) with room, and with the two
        // constants 14 registers, so it fits AVX2's 16 as well as AVX-512's 32
        FloatVector m = FloatVector.broadcast(F, 0.9999999f), c = FloatVector.broadcast(F, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(F, seed), a1 = a0.add(1f), a2 = a0.add(2f), a3 = a0.add(3f);
        FloatVector a4 = a0.add(4f), a5 = a0.add(5f), a6 = a0.add(6f), a7 = a0.add(7f);
        FloatVector a8 = a0.add(8f), a9 = a0.add(9f), a10 = a0.add(10f), a11 = a0.add(11f);
        for (long i = 0; i < iterations; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }

    @Override
    public double sum(float[] a, int from, int to) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int i = from;
        for (; i + 4 * L <= to; i += 4 * L) {
            s0 = s0.add(FloatVector.fromArray(F, a, i));
            s1 = s1.add(FloatVector.fromArray(F, a, i + L));
            s2 = s2.add(FloatVector.fromArray(F, a, i + 2 * L));
            s3 = s3.add(FloatVector.fromArray(F, a, i + 3 * L));
        }
        double s = s0.add(s1).add(s2.add(s3)).reduceLanes(VectorOperators.ADD);
        for (; i < to; i++) {
            s += a[i];
        }
        return s;
    }

    // ------------------------------------------------------------ linear

    @Override
    public void linearF32(float[] x, int xOff, int xStride, int tokens, float[] w, int wOff, int wStride, int rows,
                          int len, float[] out, int outOff, int outStride, boolean accumulate) {
        if (tokens == 1) {
            // One token: walk the rows one after another so the weights are a single sequential stream (what
            // the hardware prefetcher follows best); interleaving 4 short rows halved the bandwidth at IN=512.
            for (int r = 0; r < rows; r++) {
                float dot = dot1(x, xOff, w, wOff + r * wStride, len);
                out[outOff + r] = accumulate ? out[outOff + r] + dot : dot;
            }
        } else {
            // Up to 4 tokens: still one row at a time (one sequential weight stream), each weight vector
            // feeding every token's accumulator.
            int x1 = xOff + Math.min(1, tokens - 1) * xStride;
            int x2 = xOff + Math.min(2, tokens - 1) * xStride;
            int x3 = xOff + Math.min(3, tokens - 1) * xStride;
            for (int r = 0; r < rows; r++) {
                row1Tokens4(x, xOff, x1, x2, x3, w, wOff + r * wStride, len, out, outOff + r, outStride, tokens,
                        accumulate);
            }
        }
    }

    private static void row1Tokens4(float[] x, int x0, int x1, int x2, int x3, float[] w, int w0, int len,
                                    float[] out, int outOff, int outStride, int tokens, boolean accumulate) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + L <= len; i += L) {
            FloatVector wv = FloatVector.fromArray(F, w, w0 + i);
            a0 = wv.fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = wv.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            a2 = wv.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            a3 = wv.fma(FloatVector.fromArray(F, x, x3 + i), a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD);
        float s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD);
        float s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            float wi = w[w0 + i];
            s0 += wi * x[x0 + i];
            s1 += wi * x[x1 + i];
            s2 += wi * x[x2 + i];
            s3 += wi * x[x3 + i];
        }
        // tokens beyond the count reread token 0's row; only the real ones are stored
        out[outOff] = accumulate ? out[outOff] + s0 : s0;
        if (tokens > 1) {
            out[outOff + outStride] = accumulate ? out[outOff + outStride] + s1 : s1;
        }
        if (tokens > 2) {
            out[outOff + 2 * outStride] = accumulate ? out[outOff + 2 * outStride] + s2 : s2;
        }
        if (tokens > 3) {
            out[outOff + 3 * outStride] = accumulate ? out[outOff + 3 * outStride] + s3 : s3;
        }
    }

    private static float dot1(float[] x, int x0, float[] w, int w0, int len) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + 4 * L <= len; i += 4 * L) {
            a0 = FloatVector.fromArray(F, w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = FloatVector.fromArray(F, w, w0 + i + L).fma(FloatVector.fromArray(F, x, x0 + i + L), a1);
            a2 = FloatVector.fromArray(F, w, w0 + i + 2 * L).fma(FloatVector.fromArray(F, x, x0 + i + 2 * L), a2);
            a3 = FloatVector.fromArray(F, w, w0 + i + 3 * L).fma(FloatVector.fromArray(F, x, x0 + i + 3 * L), a3);
        }
        for (; i + L <= len; i += L) {
            a0 = FloatVector.fromArray(F, w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            s += x[x0 + i] * w[w0 + i];
        }
        return s;
    }

    @Override
    public void linear16(float[] x, int xOff, int xStride, int tokens, short[] w, boolean bf16, boolean finite,
                         int wOff, int wStride, int rows, int len, float[] out, int outOff, int outStride,
                         boolean accumulate) {
        if (tokens == 1) {
            for (int r = 0; r < rows; r++) {
                int wr = wOff + r * wStride;
                float s = bf16 ? rowBf16(x, xOff, w, wr, len)
                        : finite ? rowF16Finite(x, xOff, w, wr, len) : rowF16(x, xOff, w, wr, len);
                out[outOff + r] = accumulate ? out[outOff + r] + s : s;
            }
            return;
        }
        int x1 = xOff + Math.min(1, tokens - 1) * xStride;
        int x2 = xOff + Math.min(2, tokens - 1) * xStride;
        int x3 = xOff + Math.min(3, tokens - 1) * xStride;
        int w1 = wOff + Math.min(1, rows - 1) * wStride;
        int w2 = wOff + Math.min(2, rows - 1) * wStride, w3 = wOff + Math.min(3, rows - 1) * wStride;
        if (bf16) {
            rows4Tokens4Bf16(x, xOff, x1, x2, x3, w, wOff, w1, w2, w3, len, out, outOff, outStride, rows, tokens,
                    accumulate);
        } else if (finite) {
            rows4Tokens4F16Finite(x, xOff, x1, x2, x3, w, wOff, w1, w2, w3, len, out, outOff, outStride, rows,
                    tokens, accumulate);
        } else {
            // the exact widening is too big to inline four times: one row at a time
            for (int r = 0; r < rows; r++) {
                rowF16Tokens4(x, xOff, x1, x2, x3, w, wOff + r * wStride, len, out, outOff + r, outStride, tokens,
                        accumulate);
            }
        }
    }

    /** One bf16 row against one token: a single sequential stream, which prefetches best for 16-bit rows. */
    private static float rowBf16(float[] x, int x0, short[] w, int w0, int len) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + 4 * L <= len; i += 4 * L) {
            a0 = loadBf16(w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = loadBf16(w, w0 + i + L).fma(FloatVector.fromArray(F, x, x0 + i + L), a1);
            a2 = loadBf16(w, w0 + i + 2 * L).fma(FloatVector.fromArray(F, x, x0 + i + 2 * L), a2);
            a3 = loadBf16(w, w0 + i + 3 * L).fma(FloatVector.fromArray(F, x, x0 + i + 3 * L), a3);
        }
        for (; i + L <= len; i += L) {
            a0 = loadBf16(w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            s += x[x0 + i] * bf16(w[w0 + i]);
        }
        return s;
    }

    /** One half row against one token (two widenings per iteration: more would not be inlined). */
    private static float rowF16(float[] x, int x0, short[] w, int w0, int len) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (; i + 2 * L <= len; i += 2 * L) {
            a0 = loadF16(w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = loadF16(w, w0 + i + L).fma(FloatVector.fromArray(F, x, x0 + i + L), a1);
        }
        for (; i + L <= len; i += L) {
            a0 = loadF16(w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
        }
        float s = a0.add(a1).reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            s += x[x0 + i] * io.attnrt.tensor.HalfFloats.f16ToFloat(w[w0 + i]);
        }
        return s;
    }

    /** As {@link #rowF16} for rows without Inf/NaN: the smaller widening allows four per iteration. */
    private static float rowF16Finite(float[] x, int x0, short[] w, int w0, int len) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + 4 * L <= len; i += 4 * L) {
            a0 = loadF16Finite(w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = loadF16Finite(w, w0 + i + L).fma(FloatVector.fromArray(F, x, x0 + i + L), a1);
            a2 = loadF16Finite(w, w0 + i + 2 * L).fma(FloatVector.fromArray(F, x, x0 + i + 2 * L), a2);
            a3 = loadF16Finite(w, w0 + i + 3 * L).fma(FloatVector.fromArray(F, x, x0 + i + 3 * L), a3);
        }
        for (; i + L <= len; i += L) {
            a0 = loadF16Finite(w, w0 + i).fma(FloatVector.fromArray(F, x, x0 + i), a0);
        }
        float s = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            s += x[x0 + i] * io.attnrt.tensor.HalfFloats.f16ToFloat(w[w0 + i]);
        }
        return s;
    }

    /** One half row against up to four tokens (clamped duplicates allowed), stored for the first {@code tokens}. */
    private static void rowF16Tokens4(float[] x, int x0, int x1, int x2, int x3, short[] w, int w0, int len,
                                      float[] out, int outOff, int outStride, int tokens, boolean accumulate) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i + L <= len; i += L) {
            FloatVector v = loadF16(w, w0 + i);
            a0 = v.fma(FloatVector.fromArray(F, x, x0 + i), a0);
            a1 = v.fma(FloatVector.fromArray(F, x, x1 + i), a1);
            a2 = v.fma(FloatVector.fromArray(F, x, x2 + i), a2);
            a3 = v.fma(FloatVector.fromArray(F, x, x3 + i), a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD), s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD), s3 = a3.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) {
            float wi = io.attnrt.tensor.HalfFloats.f16ToFloat(w[w0 + i]);
            s0 += x[x0 + i] * wi;
            s1 += x[x1 + i] * wi;
            s2 += x[x2 + i] * wi;
            s3 += x[x3 + i] * wi;
        }
        // token t's result goes to out[outOff + t·outStride]: store4 with stride 1 does not apply here
        storeStrided(out, outOff, outStride, tokens, accumulate, s0, s1, s2, s3);
    }

    private static void storeStrided(float[] out, int off, int stride, int n, boolean accumulate, float s0, float s1,
                                     float s2, float s3) {
        out[off] = accumulate ? out[off] + s0 : s0;
        if (n > 1) {
            out[off + stride] = accumulate ? out[off + stride] + s1 : s1;
        }
        if (n > 2) {
            out[off + 2 * stride] = accumulate ? out[off + 2 * stride] + s2 : s2;
        }
        if (n > 3) {
            out[off + 3 * stride] = accumulate ? out[off + 3 * stride] + s3 : s3;
        }
    }

    private static void rows4Tokens4Bf16(float[] x, int x0, int x1, int x2, int x3, short[] w, int w0,
                                         int w1, int w2, int w3, int len, float[] out, int outOff, int outStride,
                                         int rows, int tokens, boolean accumulate) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        int i = 0;
        for (; i + L <= len; i += L) {
            FloatVector v0 = loadBf16(w, w0 + i);
            FloatVector v1 = loadBf16(w, w1 + i);
            FloatVector v2 = loadBf16(w, w2 + i);
            FloatVector v3 = loadBf16(w, w3 + i);
            FloatVector t = FloatVector.fromArray(F, x, x0 + i);
            a00 = v0.fma(t, a00);
            a01 = v1.fma(t, a01);
            a02 = v2.fma(t, a02);
            a03 = v3.fma(t, a03);
            t = FloatVector.fromArray(F, x, x1 + i);
            a10 = v0.fma(t, a10);
            a11 = v1.fma(t, a11);
            a12 = v2.fma(t, a12);
            a13 = v3.fma(t, a13);
            t = FloatVector.fromArray(F, x, x2 + i);
            a20 = v0.fma(t, a20);
            a21 = v1.fma(t, a21);
            a22 = v2.fma(t, a22);
            a23 = v3.fma(t, a23);
            t = FloatVector.fromArray(F, x, x3 + i);
            a30 = v0.fma(t, a30);
            a31 = v1.fma(t, a31);
            a32 = v2.fma(t, a32);
            a33 = v3.fma(t, a33);
        }
        float s00 = a00.reduceLanes(VectorOperators.ADD);
        float s01 = a01.reduceLanes(VectorOperators.ADD);
        float s02 = a02.reduceLanes(VectorOperators.ADD);
        float s03 = a03.reduceLanes(VectorOperators.ADD);
        float s10 = a10.reduceLanes(VectorOperators.ADD);
        float s11 = a11.reduceLanes(VectorOperators.ADD);
        float s12 = a12.reduceLanes(VectorOperators.ADD);
        float s13 = a13.reduceLanes(VectorOperators.ADD);
        float s20 = a20.reduceLanes(VectorOperators.ADD);
        float s21 = a21.reduceLanes(VectorOperators.ADD);
        float s22 = a22.reduceLanes(VectorOperators.ADD);
        float s23 = a23.reduceLanes(VectorOperators.ADD);
        float s30 = a30.reduceLanes(VectorOperators.ADD);
        float s31 = a31.reduceLanes(VectorOperators.ADD);
        float s32 = a32.reduceLanes(VectorOperators.ADD);
        float s33 = a33.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) { // the input tail shorter than a vector
            float v0 = bf16(w[w0 + i]);
            float v1 = bf16(w[w1 + i]);
            float v2 = bf16(w[w2 + i]);
            float v3 = bf16(w[w3 + i]);
            float x0i = x[x0 + i];
            s00 += x0i * v0;
            s01 += x0i * v1;
            s02 += x0i * v2;
            s03 += x0i * v3;
            float x1i = x[x1 + i];
            s10 += x1i * v0;
            s11 += x1i * v1;
            s12 += x1i * v2;
            s13 += x1i * v3;
            float x2i = x[x2 + i];
            s20 += x2i * v0;
            s21 += x2i * v1;
            s22 += x2i * v2;
            s23 += x2i * v3;
            float x3i = x[x3 + i];
            s30 += x3i * v0;
            s31 += x3i * v1;
            s32 += x3i * v2;
            s33 += x3i * v3;
        }
        store4(out, outOff, rows, accumulate, s00, s01, s02, s03);
        if (tokens > 1) {
            store4(out, outOff + outStride, rows, accumulate, s10, s11, s12, s13);
        }
        if (tokens > 2) {
            store4(out, outOff + 2 * outStride, rows, accumulate, s20, s21, s22, s23);
        }
        if (tokens > 3) {
            store4(out, outOff + 3 * outStride, rows, accumulate, s30, s31, s32, s33);
        }
    }

    /** As {@link #rows4Tokens4Bf16} for half weights without Inf/NaN. */
    private static void rows4Tokens4F16Finite(float[] x, int x0, int x1, int x2, int x3, short[] w, int w0,
                                              int w1, int w2, int w3, int len, float[] out, int outOff,
                                              int outStride, int rows, int tokens, boolean accumulate) {
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
        int i = 0;
        for (; i + L <= len; i += L) {
            FloatVector v0 = loadF16Finite(w, w0 + i);
            FloatVector v1 = loadF16Finite(w, w1 + i);
            FloatVector v2 = loadF16Finite(w, w2 + i);
            FloatVector v3 = loadF16Finite(w, w3 + i);
            FloatVector t = FloatVector.fromArray(F, x, x0 + i);
            a00 = v0.fma(t, a00);
            a01 = v1.fma(t, a01);
            a02 = v2.fma(t, a02);
            a03 = v3.fma(t, a03);
            t = FloatVector.fromArray(F, x, x1 + i);
            a10 = v0.fma(t, a10);
            a11 = v1.fma(t, a11);
            a12 = v2.fma(t, a12);
            a13 = v3.fma(t, a13);
            t = FloatVector.fromArray(F, x, x2 + i);
            a20 = v0.fma(t, a20);
            a21 = v1.fma(t, a21);
            a22 = v2.fma(t, a22);
            a23 = v3.fma(t, a23);
            t = FloatVector.fromArray(F, x, x3 + i);
            a30 = v0.fma(t, a30);
            a31 = v1.fma(t, a31);
            a32 = v2.fma(t, a32);
            a33 = v3.fma(t, a33);
        }
        float s00 = a00.reduceLanes(VectorOperators.ADD);
        float s01 = a01.reduceLanes(VectorOperators.ADD);
        float s02 = a02.reduceLanes(VectorOperators.ADD);
        float s03 = a03.reduceLanes(VectorOperators.ADD);
        float s10 = a10.reduceLanes(VectorOperators.ADD);
        float s11 = a11.reduceLanes(VectorOperators.ADD);
        float s12 = a12.reduceLanes(VectorOperators.ADD);
        float s13 = a13.reduceLanes(VectorOperators.ADD);
        float s20 = a20.reduceLanes(VectorOperators.ADD);
        float s21 = a21.reduceLanes(VectorOperators.ADD);
        float s22 = a22.reduceLanes(VectorOperators.ADD);
        float s23 = a23.reduceLanes(VectorOperators.ADD);
        float s30 = a30.reduceLanes(VectorOperators.ADD);
        float s31 = a31.reduceLanes(VectorOperators.ADD);
        float s32 = a32.reduceLanes(VectorOperators.ADD);
        float s33 = a33.reduceLanes(VectorOperators.ADD);
        for (; i < len; i++) { // the input tail shorter than a vector
            float v0 = io.attnrt.tensor.HalfFloats.f16ToFloat(w[w0 + i]);
            float v1 = io.attnrt.tensor.HalfFloats.f16ToFloat(w[w1 + i]);
            float v2 = io.attnrt.tensor.HalfFloats.f16ToFloat(w[w2 + i]);
            float v3 = io.attnrt.tensor.HalfFloats.f16ToFloat(w[w3 + i]);
            float x0i = x[x0 + i];
            s00 += x0i * v0;
            s01 += x0i * v1;
            s02 += x0i * v2;
            s03 += x0i * v3;
            float x1i = x[x1 + i];
            s10 += x1i * v0;
            s11 += x1i * v1;
            s12 += x1i * v2;
            s13 += x1i * v3;
            float x2i = x[x2 + i];
            s20 += x2i * v0;
            s21 += x2i * v1;
            s22 += x2i * v2;
            s23 += x2i * v3;
            float x3i = x[x3 + i];
            s30 += x3i * v0;
            s31 += x3i * v1;
            s32 += x3i * v2;
            s33 += x3i * v3;
        }
        store4(out, outOff, rows, accumulate, s00, s01, s02, s03);
        if (tokens > 1) {
            store4(out, outOff + outStride, rows, accumulate, s10, s11, s12, s13);
        }
        if (tokens > 2) {
            store4(out, outOff + 2 * outStride, rows, accumulate, s20, s21, s22, s23);
        }
        if (tokens > 3) {
            store4(out, outOff + 3 * outStride, rows, accumulate, s30, s31, s32, s33);
        }
    }

    private static void store4(float[] out, int off, int rows, boolean accumulate, float s0, float s1, float s2,
                               float s3) {
        if (accumulate) {
            out[off] += s0;
            if (rows > 1) {
                out[off + 1] += s1;
            }
            if (rows > 2) {
                out[off + 2] += s2;
            }
            if (rows > 3) {
                out[off + 3] += s3;
            }
        } else {
            out[off] = s0;
            if (rows > 1) {
                out[off + 1] = s1;
            }
            if (rows > 2) {
                out[off + 2] = s2;
            }
            if (rows > 3) {
                out[off + 3] = s3;
            }
        }
    }

    @Override
    public int tileTokens() {
        return VECTOR_REGISTERS >= 32 ? 6 : 4;
    }

    @Override
    public int rowTile() {
        return 2 * L;
    }

    /**
     * Whole groups of L rows by gather loads (one column of L rows into one vector store: about 3× faster
     * than scalar copies, and the pack was a third of a prefill GEMM's time at 128 tokens); the last partial
     * group, and the zero rows after it, element by element.
     */
    @Override
    public void packTransposed(float[] src, int base, int stride, int rows, int len, float[] wt, int tile,
                               int[] index) {
        int whole = rows / L * L;
        for (int j = 0; j < L; j++) {
            index[j] = j * stride;
        }
        for (int rb = 0; rb < whole; rb += L) {
            int from = base + rb * stride;
            for (int i = 0; i < len; i++) {
                FloatVector.fromArray(F, src, from + i, index, 0).intoArray(wt, i * tile + rb);
            }
        }
        if (whole < tile) {
            ScalarKernels.packColumns(src, base, stride, whole, rows, tile, len, wt);
        }
    }

    /**
     * Tokens × 2L packed rows: 6 tokens (12 accumulators, 15 registers live) where there are 32 vector
     * registers, 4 (8 accumulators, 11 live) where there are 16 (AVX2), since 6 spills there. On a 2-FMA-port
     * AVX-512 core (FMA peak 212 GFLOP/s) the register loop alone ran 4×2L 119–142, 6×2L 139–149, 4×4L 112–139
     * and 6×4L 115–126 GFLOP/s (side by side, three runs): the 2L tile's packed slice (32 KiB at 512 bits)
     * stays in L1 where the 4L one does not. Under {@code -XX:UseAVX=2} 4×2L ran 98 of 106, 6×2L 60.
     */
    @Override
    public void linearTile(float[] x, int xOff, int xStride, int tokens, float[] wt, int len, float[] out, int outOff,
                           int outStride, int rows, boolean accumulate, float[] stage) {
        if (VECTOR_REGISTERS < 32) {
            linearTile4(x, xOff, xStride, tokens, wt, len, stage);
        } else {
            linearTile6(x, xOff, xStride, tokens, wt, len, stage);
        }
        storeStaged(stage, 2 * L, tokens, rows, out, outOff, outStride, accumulate);
    }

    /** 6 tokens × 2L rows of the staged tile. */
    private static void linearTile6(float[] x, int xOff, int xStride, int tokens, float[] wt, int len,
                                       float[] stage) {
        int tile = 2 * L;
        int x0 = xOff;
        int x1 = xOff + Math.min(1, tokens - 1) * xStride;
        int x2 = xOff + Math.min(2, tokens - 1) * xStride;
        int x3 = xOff + Math.min(3, tokens - 1) * xStride;
        int x4 = xOff + Math.min(4, tokens - 1) * xStride;
        int x5 = xOff + Math.min(5, tokens - 1) * xStride;
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z;
        FloatVector a10 = z, a11 = z;
        FloatVector a20 = z, a21 = z;
        FloatVector a30 = z, a31 = z;
        FloatVector a40 = z, a41 = z;
        FloatVector a50 = z, a51 = z;
        for (int i = 0; i < len; i++) {
            int wi = i * tile;
            FloatVector w0 = FloatVector.fromArray(F, wt, wi);
            FloatVector w1 = FloatVector.fromArray(F, wt, wi + L);
            FloatVector b = FloatVector.broadcast(F, x[x0 + i]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F, x[x1 + i]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            b = FloatVector.broadcast(F, x[x2 + i]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            b = FloatVector.broadcast(F, x[x3 + i]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
            b = FloatVector.broadcast(F, x[x4 + i]);
            a40 = w0.fma(b, a40);
            a41 = w1.fma(b, a41);
            b = FloatVector.broadcast(F, x[x5 + i]);
            a50 = w0.fma(b, a50);
            a51 = w1.fma(b, a51);
        }
        a00.intoArray(stage, 0);
        a01.intoArray(stage, L);
        a10.intoArray(stage, tile);
        a11.intoArray(stage, tile + L);
        a20.intoArray(stage, 2 * tile);
        a21.intoArray(stage, 2 * tile + L);
        a30.intoArray(stage, 3 * tile);
        a31.intoArray(stage, 3 * tile + L);
        a40.intoArray(stage, 4 * tile);
        a41.intoArray(stage, 4 * tile + L);
        a50.intoArray(stage, 5 * tile);
        a51.intoArray(stage, 5 * tile + L);
    }

    /** 4 tokens × 2L rows of the staged tile. */
    private static void linearTile4(float[] x, int xOff, int xStride, int tokens, float[] wt, int len,
                                       float[] stage) {
        int tile = 2 * L;
        int x0 = xOff;
        int x1 = xOff + Math.min(1, tokens - 1) * xStride;
        int x2 = xOff + Math.min(2, tokens - 1) * xStride;
        int x3 = xOff + Math.min(3, tokens - 1) * xStride;
        FloatVector z = FloatVector.zero(F);
        FloatVector a00 = z, a01 = z;
        FloatVector a10 = z, a11 = z;
        FloatVector a20 = z, a21 = z;
        FloatVector a30 = z, a31 = z;
        for (int i = 0; i < len; i++) {
            int wi = i * tile;
            FloatVector w0 = FloatVector.fromArray(F, wt, wi);
            FloatVector w1 = FloatVector.fromArray(F, wt, wi + L);
            FloatVector b = FloatVector.broadcast(F, x[x0 + i]);
            a00 = w0.fma(b, a00);
            a01 = w1.fma(b, a01);
            b = FloatVector.broadcast(F, x[x1 + i]);
            a10 = w0.fma(b, a10);
            a11 = w1.fma(b, a11);
            b = FloatVector.broadcast(F, x[x2 + i]);
            a20 = w0.fma(b, a20);
            a21 = w1.fma(b, a21);
            b = FloatVector.broadcast(F, x[x3 + i]);
            a30 = w0.fma(b, a30);
            a31 = w1.fma(b, a31);
        }
        a00.intoArray(stage, 0);
        a01.intoArray(stage, L);
        a10.intoArray(stage, tile);
        a11.intoArray(stage, tile + L);
        a20.intoArray(stage, 2 * tile);
        a21.intoArray(stage, 2 * tile + L);
        a30.intoArray(stage, 3 * tile);
        a31.intoArray(stage, 3 * tile + L);
    }

    /**
     * The staged tile into {@code out}: token t's {@code rows} values from {@code stage[t·tile]}, added to what
     * is there when accumulating. The register kernels store all their accumulators to the stage unmasked;
     * storing straight into out from inside them (tokens, rows and accumulate all varying) made them too big
     * for C2 to inline the helpers, which then boxed the vectors.
     */
    private static void storeStaged(float[] stage, int tile, int tokens, int rows, float[] out, int outOff,
                                    int outStride, boolean accumulate) {
        int whole = rows / L * L;
        for (int t = 0; t < tokens; t++) {
            int o = outOff + t * outStride, st = t * tile;
            for (int r = 0; r < whole; r += L) {
                FloatVector v = FloatVector.fromArray(F, stage, st + r);
                if (accumulate) {
                    v = v.add(FloatVector.fromArray(F, out, o + r));
                }
                v.intoArray(out, o + r);
            }
            for (int r = whole; r < rows; r++) {
                out[o + r] = accumulate ? out[o + r] + stage[st + r] : stage[st + r];
            }
        }
    }

    // ------------------------------------------------------------ attention

    @Override
    public void scoresTransposed(float[] q, int qOff, int rows, int d, float[] kt, float[] s) {
        SimdAttention.scoresTransposed(q, qOff, rows, d, kt, s);
    }

    @Override
    public void scoresDot(float[] q, int qOff, int rows, int d, float[] k, int[] kOffs, int count, float[] s) {
        SimdAttention.scoresDot(q, qOff, rows, d, k, kOffs, count, s);
    }

    @Override
    public void accumulatePV(float[] p, int rows, int count, float[] v, int[] vOffs, float[] acc, int accOff, int d) {
        SimdAttention.accumulatePV(p, rows, count, v, vOffs, acc, accOff, d);
    }

    @Override
    public float max(float[] a, int off, int n) {
        int i = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector mv = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
            for (; i + L <= n; i += L) {
                mv = mv.max(FloatVector.fromArray(F, a, off + i));
            }
            m = mv.reduceLanes(VectorOperators.MAX);
        }
        for (; i < n; i++) {
            m = Math.max(m, a[off + i]);
        }
        return m;
    }

    @Override
    public int firstAbove(float[] a, int from, int to, float threshold) {
        int i = from;
        FloatVector t = FloatVector.broadcast(F, threshold);
        for (; i + 4 * L <= to; i += 4 * L) { // NaN: LE is false, so its lane is set after not()
            VectorMask<Float> m0 = FloatVector.fromArray(F, a, i).compare(VectorOperators.LE, t).not();
            VectorMask<Float> m1 = FloatVector.fromArray(F, a, i + L).compare(VectorOperators.LE, t).not();
            VectorMask<Float> m2 = FloatVector.fromArray(F, a, i + 2 * L).compare(VectorOperators.LE, t).not();
            VectorMask<Float> m3 = FloatVector.fromArray(F, a, i + 3 * L).compare(VectorOperators.LE, t).not();
            if (m0.or(m1).or(m2).or(m3).anyTrue()) {
                break; // the one-vector loop below finds it among these 4·L
            }
        }
        for (; i + L <= to; i += L) {
            VectorMask<Float> m = FloatVector.fromArray(F, a, i).compare(VectorOperators.LE, t).not();
            if (m.anyTrue()) {
                return i + m.firstTrue();
            }
        }
        for (; i < to; i++) {
            if (!(a[i] <= threshold)) {
                return i;
            }
        }
        return to;
    }

    @Override
    public float expShiftSum(float[] a, int off, int n, float m) {
        int i = 0;
        FloatVector sum = FloatVector.zero(F);
        for (; i + L <= n; i += L) {
            FloatVector e = exp(FloatVector.fromArray(F, a, off + i).sub(m));
            e.intoArray(a, off + i);
            sum = sum.add(e);
        }
        float s = sum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            float e = (float) Math.exp(a[off + i] - m);
            a[off + i] = e;
            s += e;
        }
        return s;
    }

}
