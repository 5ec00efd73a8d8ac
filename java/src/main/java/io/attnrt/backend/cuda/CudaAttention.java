package io.attnrt.backend.cuda;

import static io.attnrt.backend.cuda.CudaBackend.sfx;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.Tensor;
import jcuda.driver.CUdeviceptr;

/**
 * Prefill through {@code flash_attn_prefill_A_hdD} (cuda/flash_attention.cu) and decode through
 * {@code paged_attn_decode_A_C_hdD} plus, when the context is split, {@code paged_attn_reduce_A}
 * (cuda/paged_attention.cu). The head dims with kernels are {@link #HEAD_DIMS}.
 */
final class CudaAttention implements AutoCloseable {
    static final int[] HEAD_DIMS = {64, 80, 96, 128, 256};

    private final CudaBackend be;
    private final Workspace partials = new Workspace();
    private int forcedSplits;

    CudaAttention(CudaBackend be) {
        this.be = be;
    }

    private static void checkHeadDim(String op, int d) {
        for (int h : HEAD_DIMS) {
            if (h == d) {
                return;
            }
        }
        throw new IllegalArgumentException(op + ": the cuda backend has kernels for head dims 64, 80, 96, 128 and "
                + "256, not " + d);
    }

    void prefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out, Tensor lse) {
        int d = spec.headDim();
        checkHeadDim("attentionPrefill", d);
        int seqs = seqStarts.length - 1;
        if (seqs > 65535) {
            throw new IllegalArgumentException("attentionPrefill: the cuda backend takes at most 65535 sequences "
                    + "per call (grid z), got " + seqs);
        }
        int maxLen = 0;
        for (int s = 0; s < seqs; s++) {
            maxLen = Math.max(maxLen, seqStarts[s + 1] - seqStarts[s]);
        }
        if (maxLen == 0) {
            return;
        }
        // Contiguous rows: the strides are the widths, multiples of 8 elements (D % 8 == 0) as the kernel's
        // 16-byte row accesses require.
        FlashConfig c = FlashConfig.of(d);
        be.launch("flash_attn_prefill_" + sfx(q.dtype()) + "_hd" + d, (maxLen + c.blockM() - 1) / c.blockM(),
                spec.numHeads(), seqs, c.threads(), c.smemBytes(),
                be.ptr(q), be.ptr(k), be.ptr(v), be.ptr(out), be.ptr(lse), be.ints.of(seqStarts), seqs,
                spec.numHeads(), spec.numKvHeads(), spec.qWidth(), spec.kvWidth(), spec.qWidth(),
                spec.causal() ? 1 : 0, spec.window(), spec.scale());
    }

    void decode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables, int maxBlocksPerSeq,
                int[] contextLens, int blockSize, AttentionSpec spec, Tensor out, Tensor lse) {
        int d = spec.headDim();
        checkHeadDim("attentionDecode", d);
        int batch = contextLens.length;
        if (batch == 0) {
            return;
        }
        int maxContext = 0;
        for (int c : contextLens) {
            maxContext = Math.max(maxContext, c);
        }
        int splits = forcedSplits > 0 ? forcedSplits
                : DecodeSplits.splits(batch, spec.numKvHeads(), maxContext, blockSize, be.smCount());
        int splitSize = DecodeSplits.splitSize(maxContext, splits, blockSize);
        int group = spec.groupSize();
        int smem = DecodeSplits.smemBytes(d, group, keyCache.dtype().byteSize());
        if (smem > be.device.smemOptIn) {
            throw new IllegalArgumentException("attentionDecode: " + group + " query heads per KV head with head dim "
                    + d + " and a " + keyCache.dtype() + " cache need " + smem + " bytes of shared memory per CTA, "
                    + "more than this device's " + be.device.smemOptIn);
        }
        CUdeviceptr partialOut = Kernel.NULL;
        CUdeviceptr partialMaxSum = Kernel.NULL;
        if (splits > 1) {
            long rows = (long) batch * spec.numHeads() * splits;
            long outBytes = 4 * rows * d;
            CUdeviceptr base = partials.get(outBytes + 8 * rows);
            partialOut = base;
            partialMaxSum = base.withByteOffset(outBytes);
        }
        // Table entries past a sequence's blocks may be garbage; the kernel reads only the blocks it needs.
        int[] tables = blockTables.length == (long) batch * maxBlocksPerSeq ? blockTables
                : java.util.Arrays.copyOf(blockTables, batch * maxBlocksPerSeq);
        be.launch("paged_attn_decode_" + sfx(q.dtype()) + "_" + sfx(keyCache.dtype()) + "_hd" + d,
                spec.numKvHeads(), batch, splits, DecodeSplits.threads(group), smem,
                be.ptr(q), be.ptr(keyCache), be.ptr(valueCache), be.ints.of(tables), maxBlocksPerSeq,
                be.ints.of(contextLens), blockSize, spec.numHeads(), spec.numKvHeads(), spec.qWidth(), spec.scale(),
                spec.causal() ? 1 : 0, spec.window(), splits, splitSize, be.ptr(out), be.ptr(lse), partialOut,
                partialMaxSum);
        if (splits > 1) {
            be.launch("paged_attn_reduce_" + sfx(q.dtype()), spec.numHeads(), batch, 1, DecodeSplits.REDUCE_THREADS,
                    DecodeSplits.reduceSmemBytes(splits), partialOut, partialMaxSum, be.ints.of(contextLens),
                    spec.numHeads(), d, splits, splitSize, be.ptr(out), be.ptr(lse));
        }
    }

    /** Tests: every decode split into exactly {@code n} parts (0 = the heuristic). */
    void forceSplits(int n) {
        forcedSplits = n;
    }

    @Override
    public void close() {
        partials.close();
    }
}
