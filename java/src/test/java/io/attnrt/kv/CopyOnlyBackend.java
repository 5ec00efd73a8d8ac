package io.attnrt.kv;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.OpChecks;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.host.HostMemoryBackend;
import io.attnrt.backend.host.HostTensor;
import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Host memory plus {@code copyBlocks} only: enough for the cache's bookkeeping tests, and it records every
 * copy and can be told to fail one, which the reference backend cannot.
 */
final class CopyOnlyBackend extends HostMemoryBackend {
    record Copy(Tensor cache, int[] src, int[] dst) {
    }

    final List<Copy> copies = new ArrayList<>();
    /** Throw on the copy call with this index (0-based, counting every call), or -1 never. */
    int failOnCall = -1;
    private int calls;

    @Override
    public String name() {
        return "copy-only-test";
    }

    @Override
    public String description() {
        return "test backend: host memory and copyBlocks";
    }

    @Override
    public void copyBlocks(Tensor[] caches, int[] src, int[] dst) {
        OpChecks.copyBlocks(caches, src, dst);
        for (Tensor cache : caches) {
            copyOne(cache, src, dst);
        }
    }

    /** failOnCall counts caches: a failure in the middle of one copyBlocks call leaves earlier caches copied. */
    private void copyOne(Tensor cache, int[] src, int[] dst) {
        if (calls++ == failOnCall) {
            throw new IllegalStateException("injected copyBlocks failure");
        }
        HostTensor h = own(cache, "copyBlocks");
        int blockElems = (int) (h.numel() / h.dim(0));
        for (int i = 0; i < src.length; i++) {
            if (h.dtype() == DType.F32) {
                System.arraycopy(h.f32(), src[i] * blockElems, h.f32(), dst[i] * blockElems, blockElems);
            } else {
                System.arraycopy(h.bits16(), src[i] * blockElems, h.bits16(), dst[i] * blockElems, blockElems);
            }
        }
        copies.add(new Copy(cache, src.clone(), dst.clone()));
    }

    @Override
    public void gatherRows(Tensor table, int[] rows, Tensor out) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void linear(Tensor x, Tensor weight, Tensor out, boolean accumulate) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void rope(Tensor x, int[] positions, int numHeads, int headDim, RopeSpec rope) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out,
                                 Tensor lse) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void kvAppend(Tensor keyCache, Tensor valueCache, Tensor k, Tensor v, int[] slots) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables, int maxBlocksPerSeq,
                                int[] contextLens, AttentionSpec spec, Tensor out, Tensor lse) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void swiglu(Tensor gateUp, Tensor out) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void rmsNormHeads(Tensor x, Tensor weight, float eps) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        throw new UnsupportedOperationException();
    }

    @Override
    public int[] argmax(Tensor logits) {
        throw new UnsupportedOperationException();
    }

    @Override
    public int[] sample(Tensor logits, SamplingParams[] params, double[] uniforms) {
        throw new UnsupportedOperationException();
    }
}
