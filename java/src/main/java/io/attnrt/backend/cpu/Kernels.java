package io.attnrt.backend.cpu;

/**
 * The inner loops of the CPU backend over plain arrays with offsets. Two implementations: {@link ScalarKernels}
 * (plain Java, always available) and {@code SimdKernels} (the incubating Vector API). The backend loads the
 * SIMD one reflectively and only when {@code jdk.incubator.vector} is in the boot layer, so no class that
 * names a vector type is ever loaded on a JVM started without that module.
 *
 * <p>Tile conventions shared by the attention code: a score tile holds {@link #keyTile()} columns per row;
 * query, accumulator and converted key/value rows are packed with stride {@code d} (the head dimension).
 */
interface Kernels {

    /** How the kernels compute, for {@link CpuBackend#description()}: "scalar" or "SIMD 512-bit (16 float lanes)". */
    String describe();

    /** Float lanes per vector (1 for the scalar kernels). */
    int lanes();

    /** Keys per attention tile: a multiple of {@link #lanes()} sized for the score kernel's registers. */
    int keyTile();

    // ------------------------------------------------------------ element-wise

    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    float sumOfSquares(float[] a, int off, int n);

    /** {@code out[i] = x[i] · s · w[i]}. */
    void scaleMul(float[] x, int xOff, float s, float[] w, int wOff, float[] out, int outOff, int n);

    /** {@code out[i] = a[i] + b[i]}; out may be a or b. */
    void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n);

    /** {@code out[i] = silu(g[i]) · u[i]}; out may be g or u. Finite for any finite gate. */
    void swiglu(float[] g, int gOff, float[] u, int uOff, float[] out, int outOff, int n);

    /** {@code a[i] *= s}. */
    void scale(float[] a, int off, int n, float s);

    /** {@code dst[i] = s · src[i]}. */
    void copyScaled(float[] src, int srcOff, float s, float[] dst, int dstOff, int n);

    /** 16-bit elements (bfloat16 when {@code bf16}, else IEEE half) to float, exactly. */
    void toFloat(short[] src, int srcOff, boolean bf16, float[] dst, int dstOff, int n);

    /**
     * Decodes {@code n} elements (whole blocks) of a block-quantized row starting at byte {@code at},
     * bit-identically to {@link io.attnrt.tensor.Quant#dequantize}.
     */
    void dequantize(io.attnrt.tensor.DType type, byte[] src, int at, float[] dst, int dstOff, int n);

    /** Whether {@link #dotQuantized} has a kernel decoding {@code type} in registers. */
    boolean fusesQuantizedDot(io.attnrt.tensor.DType type);

    /**
     * {@code Σ_i w[i]·x[xOff + i]} over {@code n} elements of a quantized row at byte {@code at}, for a type
     * {@link #fusesQuantizedDot} accepts (the others: decode the row, then {@link #linearF32}).
     * {@code xSums[s]} is the sum of x over elements [32s, 32s + 32): shared by every row, it lets the
     * formats with per-sub-block minimums (Q4_K) apply them once per sub-block.
     */
    float dotQuantized(io.attnrt.tensor.DType type, byte[] w, int at, float[] x, int xOff, int n, float[] xSums);

    /** Sum of {@code a[from, to)} (the streaming-read probe of {@link MemoryBandwidth}). */
    double sum(float[] a, int from, int to);

    /**
     * {@code iterations} rounds of 12 independent multiply-adds per lane, all in registers (the FMA-peak probe
     * of {@link FmaPeak}: 24·{@link #lanes()} FLOP a round). Returns a value depending on every result.
     */
    float fmaRounds(long iterations, float seed);

    // ------------------------------------------------------------ linear

    /**
     * {@code out[t·outStride + r] (+)= Σ_{i<len} x[xOff + t·xStride + i] · w[wOff + r·wStride + i]} for
     * {@code t < tokens ≤ 4} and {@code r < rows ≤ 4}; accumulate adds to out instead of storing.
     */
    void linearF32(float[] x, int xOff, int xStride, int tokens, float[] w, int wOff, int wStride, int rows,
                   int len, float[] out, int outOff, int outStride, boolean accumulate);

    /**
     * As {@link #linearF32} with 16-bit weights (bfloat16 when {@code bf16}, else half) widened on the fly.
     * {@code finite}: the caller has checked that no half weight is Inf/NaN (see {@link #finiteHalves}), which
     * allows a cheaper widening; the result is the same.
     */
    void linear16(float[] x, int xOff, int xStride, int tokens, short[] w, boolean bf16, boolean finite, int wOff,
                  int wStride, int rows, int len, float[] out, int outOff, int outStride, boolean accumulate);

    /** Whether no IEEE half in {@code a[from, to)} has the all-ones exponent (Inf or NaN). */
    boolean finiteHalves(short[] a, int from, int to);

    /** Output rows per {@link #linearTile} tile: a multiple of {@link #lanes()}. */
    int rowTile();

    /** The most tokens one {@link #linearTile} call takes. */
    int tileTokens();

    /**
     * Rows of a matrix packed transposed, {@code tile} wide: {@code wt[i·tile + r] = src[base + r·stride + i]}
     * for {@code i < len} and {@code r < rows}, zero for {@code rows ≤ r < tile}. A weight slice for
     * {@link #linearTile} ({@code tile = rowTile()}) and a key tile for {@link #scoresTransposed}
     * ({@code tile = keyTile()}). {@code tile} is a multiple of {@link #lanes()}; {@code index} is the
     * caller's scratch of at least {@link #lanes()} ints.
     */
    void packTransposed(float[] src, int base, int stride, int rows, int len, float[] wt, int tile, int[] index);

    /**
     * The GEMM micro-kernel on a packed, transposed weight tile: {@code out[t·outStride + r] (+)=
     * Σ_{i<len} x[xOff + t·xStride + i] · wt[i·rowTile() + r]} for {@code t < tokens ≤ tileTokens()} and {@code r < rows
     * ≤ rowTile()}. Vectorised along the output rows, so no horizontal reductions are needed. {@code stage} is
     * the caller's scratch of at least {@code tileTokens()·rowTile()} floats.
     */
    void linearTile(float[] x, int xOff, int xStride, int tokens, float[] wt, int len, float[] out, int outOff,
                    int outStride, int rows, boolean accumulate, float[] stage);

    // ------------------------------------------------------------ attention

    /**
     * Scores against a transposed key tile: {@code s[r·tile + j] = Σ_c q[qOff + r·d + c] · kt[c·tile + j]}
     * for r < rows and all {@code tile = keyTile()} columns.
     */
    void scoresTransposed(float[] q, int qOff, int rows, int d, float[] kt, float[] s);

    /**
     * Scores by dot products: {@code s[r·tile + j] = Σ_c q[qOff + r·d + c] · k[kOffs[j] + c]} for r < rows,
     * j < count.
     */
    void scoresDot(float[] q, int qOff, int rows, int d, float[] k, int[] kOffs, int count, float[] s);

    /** Max of {@code a[off, off+n)}; −∞ when all are −∞. */
    float max(float[] a, int off, int n);

    /**
     * The first i in [from, to) with {@code !(a[i] <= threshold)} (larger, or NaN), or {@code to} if there is
     * none: the sampler's top-k scan, which rejects nearly every logit.
     */
    int firstAbove(float[] a, int from, int to, float threshold);

    /** {@code a[i] = exp(a[i] − m)} (−∞ gives 0) and returns the sum; m is finite. */
    float expShiftSum(float[] a, int off, int n, float m);

    /**
     * {@code acc[accOff + r·d + c] += Σ_{j<count} p[r·tile + j] · v[vOffs[j] + c]} for r < rows, c < d.
     */
    void accumulatePV(float[] p, int rows, int count, float[] v, int[] vOffs, float[] acc, int accOff, int d);
}
