package io.attnrt.backend;

import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.nio.ByteBuffer;

/**
 * The ops a Llama-family decoder needs, over tensors this backend owns. No op moves tensor data to the
 * host: only {@link #download} does. Index metadata — token ids, positions, sequence boundaries, KV slots,
 * block tables — is passed as host {@code int[]}, which a device backend copies up with the launch.
 *
 * <p>Shapes are row-major. "Tokens" below means the rows of a ragged batch laid end to end: several
 * sequences of different lengths concatenated along the first dimension. Activations — the token rows
 * the block's ops read and write — are in the backend's {@link #activationDType()} (F32 on the CPU
 * backends, BF16 or F16 on a GPU); "F32" below means that dtype unless said otherwise. Projection outputs
 * (logits) may also be F32. Weights (the {@code weight}/{@code table} arguments) and KV caches may be F32,
 * F16 or BF16.
 *
 * <p>Ops check every shape and dtype they receive and throw {@link IllegalArgumentException} naming the
 * argument and the shapes when one is wrong; they never write partial results on a bad argument.
 * Output tensors may not alias inputs unless the op says so.
 */
public interface Backend extends AutoCloseable {

    /** Short name: {@code reference}, {@code cpu}, {@code cuda}. */
    String name();

    /** One line on how this backend runs (device, SIMD width, threads...), for logs and reports. */
    String description();

    /**
     * The dtype this backend computes activations in: inputs and outputs of the block's ops (the residual
     * stream, q/k/v, attention outputs, MLP activations). Ops reject activations of another dtype.
     */
    default DType activationDType() {
        return DType.F32;
    }

    /**
     * The dtype a weight stored as {@code stored} in a model file should be uploaded as on this backend
     * (a GPU converts F32 checkpoints to BF16 so its tensor cores can read them).
     */
    default DType weightDType(DType stored) {
        return stored;
    }

    // ---------------------------------------------------------------- memory

    /** A new zero-filled tensor. */
    Tensor allocate(DType dtype, int... shape);

    /** A new tensor holding {@code data} (row-major, length = product of shape) converted to {@code dtype}. */
    Tensor upload(float[] data, DType dtype, int... shape);

    /**
     * A new tensor holding raw little-endian elements of {@code dtype} — exactly numel·byteSize bytes from
     * the buffer's position (a memory-mapped safetensors region, for instance). The buffer is not retained.
     */
    Tensor uploadRaw(ByteBuffer littleEndian, DType dtype, int... shape);

    /** The tensor's elements converted to F32, row-major. */
    float[] download(Tensor t);

    /** Overwrites an existing tensor with {@code data} (converted to its dtype); lengths must match. */
    void write(Tensor dst, float[] data);

    /** Releases the tensor's storage; later use of it is an error. Freeing twice is a no-op. */
    void free(Tensor t);

    /** Bytes currently held by live tensors of this backend. */
    long bytesInUse();

    /** Waits for queued work to finish (device backends); a no-op on the CPU. */
    default void synchronize() {
    }

    @Override
    void close();

    // ---------------------------------------------------------------- ops

    /**
     * {@code out[i, :] = table[rows[i], :]}. Embedding lookup (table = token embeddings, rows = token ids)
     * and picking rows out of a batch (e.g. the last token of each sequence).
     *
     * @param table [R, C] any dtype
     * @param rows  indices in [0, R)
     * @param out   [rows.length, C] F32
     */
    void gatherRows(Tensor table, int[] rows, Tensor out);

    /**
     * {@code out = x / sqrt(mean(x²) + eps) · weight}, row by row.
     *
     * @param x      [N, C] F32
     * @param weight [C] any dtype
     * @param out    [N, C] F32; may be {@code x}
     */
    void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out);

    /**
     * Residual add fused with the next norm: {@code residual += delta; out = rmsNorm(residual)}.
     *
     * @param residual [N, C] F32, updated in place
     * @param delta    [N, C] F32
     * @param out      [N, C] F32, distinct from residual
     */
    void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out);

    /**
     * {@code out = x · weightᵀ}, or {@code out += x · weightᵀ} when {@code accumulate} (the residual add of
     * a sub-block fused into its output projection): for every token n and output feature o,
     * {@code sum_i x[n,i]·weight[o,i]}, added to the old {@code out[n,o]} before the one rounding.
     *
     * @param x      [N, IN] F32
     * @param weight [OUT, IN] any dtype (the Hugging Face nn.Linear layout)
     * @param out    [N, OUT] F32 (or F32 logits under a 16-bit activation dtype); distinct from x
     */
    void linear(Tensor x, Tensor weight, Tensor out, boolean accumulate);

    /** {@code out = x · weightᵀ}: {@link #linear(Tensor, Tensor, Tensor, boolean)} without accumulation. */
    default void linear(Tensor x, Tensor weight, Tensor out) {
        linear(x, weight, out, false);
    }

    /**
     * Rotary position embedding in place on {@code x} [N, numHeads·headDim] F32; token n is at
     * {@code positions[n]}. headDim must be even.
     */
    void rope(Tensor x, int[] positions, int numHeads, int headDim, RopeSpec rope);

    /**
     * RoPE on a layer's queries and keys at once ({@link #rope} on each): q [N, numHeads·headDim] and
     * k [N, numKvHeads·headDim] rotated in place, token n at {@code positions[n]}. A device backend does both
     * in one launch.
     */
    default void ropeQK(Tensor q, Tensor k, int[] positions, int numHeads, int numKvHeads, int headDim,
                        RopeSpec rope) {
        rope(q, positions, numHeads, headDim, rope);
        rope(k, positions, numKvHeads, headDim, rope);
    }

    /**
     * Attention over a ragged batch of whole sequences (prefill). Sequence s owns token rows
     * {@code [seqStarts[s], seqStarts[s+1])} of q, k and v; position i of a sequence is its i-th row.
     * Each query sees the keys of its own sequence allowed by {@link AttentionSpec#visible}.
     *
     * @param q         [T, numHeads·headDim] F32
     * @param k         [T, numKvHeads·headDim] F32
     * @param v         [T, numKvHeads·headDim] F32
     * @param seqStarts B+1 non-decreasing offsets, first 0, last T
     * @param out       [T, numHeads·headDim] F32
     * @param lse       null, or [T, numHeads] F32 receiving the natural-log log-sum-exp of each row's
     *                  scaled scores
     */
    void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out, Tensor lse);

    /**
     * Writes token rows into a paged KV cache: row n of k and v goes to slot {@code slots[n]}, i.e. block
     * {@code slots[n] / blockSize}, offset {@code slots[n] % blockSize}.
     *
     * @param keyCache   [numBlocks, blockSize, numKvHeads, headDim] (F32, F16 or BF16)
     * @param valueCache same shape and dtype as keyCache
     * @param k          [N, numKvHeads·headDim] F32
     * @param v          [N, numKvHeads·headDim] F32
     * @param slots      N slot indices in [0, numBlocks·blockSize), or {@link OpChecks#PADDING_SLOT} (−1) for a
     *                   padding row, which writes nothing (a padded batch's extra rows; their decode rows use
     *                   context length 0, which attends to nothing and yields a zero row)
     */
    void kvAppend(Tensor keyCache, Tensor valueCache, Tensor k, Tensor v, int[] slots);

    /**
     * One query token per sequence against its paged KV cache (decode). Sequence b has
     * {@code contextLens[b]} cached tokens; its token t lives in block
     * {@code blockTables[b·maxBlocksPerSeq + t / blockSize]} at offset {@code t % blockSize}. The query is at
     * position {@code contextLens[b] − 1} (its own K/V already appended), so the mask of
     * {@link AttentionSpec#visible} applies with i = contextLens[b] − 1.
     *
     * @param q               [B, numHeads·headDim] F32
     * @param keyCache        [numBlocks, blockSize, numKvHeads, headDim]
     * @param valueCache      same as keyCache
     * @param blockTables     B·maxBlocksPerSeq physical block ids (unused tail entries are ignored)
     * @param maxBlocksPerSeq the row stride of blockTables
     * @param contextLens     B lengths ≥ 0; 0 yields a zero output row and lse −∞
     * @param out             [B, numHeads·headDim] F32
     * @param lse             null or [B, numHeads] F32
     */
    void attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables, int maxBlocksPerSeq,
                         int[] contextLens, AttentionSpec spec, Tensor out, Tensor lse);

    /**
     * Copies whole blocks in every given paged cache (all layers' K and V pools in one call, one launch on a
     * GPU): in each cache, block {@code dst[i]} becomes a copy of block {@code src[i]}. Every copy reads the
     * cache as it was before the call (as parallel device copies would); a destination should not appear
     * twice. The caches share one shape and dtype.
     */
    void copyBlocks(Tensor[] caches, int[] src, int[] dst);

    /**
     * The SwiGLU gate over the fused projection's output: {@code gateUp} [N, 2F] holds per row the gate
     * (columns 0..F−1) then up (F..2F−1), as one GEMM against the concatenated [gate | up] weight writes it;
     * {@code out[n, f] = silu(gate[n, f]) · up[n, f]}, silu(x) = x / (1 + e^−x). Activation dtype; out
     * [N, F] is a tensor of its own.
     */
    void swiglu(Tensor gateUp, Tensor out);

    /**
     * RMSNorm of every head of x in place (Qwen3's q_norm / k_norm before RoPE): x [N, H·d] in the activation
     * dtype is normalized in slices of d = weight's length, each scaled by weight [d].
     */
    void rmsNormHeads(Tensor x, Tensor weight, float eps);

    /**
     * {@code x[n, f] += bias[f]} for every row: a projection's bias (Qwen2's q/k/v). x [N, F] in the activation
     * dtype; bias [F] in any weight dtype.
     */
    void addBias(Tensor x, Tensor bias);

    /** {@code out = a + b} element-wise, same shapes, F32; out may be a or b. */
    void add(Tensor a, Tensor b, Tensor out);

    /** Per row of logits [B, V] F32: the index of the largest value (lowest index among ties). */
    int[] argmax(Tensor logits);

    /**
     * Per row of logits [B, V] F32: a token drawn as {@link SamplingParams} defines, with
     * {@code uniforms[b]} in [0, 1) as the row's random draw (the caller owns the seeded generators, so
     * results do not depend on the backend).
     */
    int[] sample(Tensor logits, SamplingParams[] params, double[] uniforms);
}
