package io.attnrt.backend;

import io.attnrt.tensor.DType;
import io.attnrt.backend.Tensor;
import java.util.Arrays;

/**
 * Argument validation shared by every backend, so each op rejects the same bad input with the same
 * message whatever runs it. Each method throws {@link IllegalArgumentException} naming the op, the
 * argument and the shapes involved, before any output is touched.
 */
public final class OpChecks {
    private OpChecks() {
    }

    /** Float values written into {@code what} of {@code dtype}: refused for block-quantized types. */
    public static void floatValuesInto(String what, DType dtype) {
        if (dtype.isQuantized()) {
            throw new IllegalArgumentException(what + ": attnrt does not quantize; upload " + dtype
                    + " weights as raw blocks (uploadRaw)");
        }
    }

    public static void gatherRows(Tensor table, int[] rows, Tensor out) {
        rank("gatherRows", "table", table, 2);
        matrix("gatherRows", "out", out, rows.length, table.dim(1));
        activation("gatherRows", "out", out);
        int n = table.dim(0);
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] < 0 || rows[i] >= n) {
                throw new IllegalArgumentException("gatherRows: index " + rows[i] + " at position " + i
                        + " is outside [0, " + n + ") of table " + table.describe());
            }
        }
    }

    public static void rmsNorm(String op, Tensor x, Tensor weight, float eps, Tensor out) {
        rank(op, "x", x, 2);
        activation(op, "x", x);
        vector(op, "weight", weight, x.dim(1));
        sameShape(op, "out", out, x);
        activation(op, "out", out);
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException(op + ": eps must be finite and >= 0, got " + eps);
        }
    }

    public static void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
        rmsNorm("addRmsNorm", residual, weight, eps, out);
        sameShape("addRmsNorm", "delta", delta, residual);
        activation("addRmsNorm", "delta", delta);
        if (out == residual) {
            throw new IllegalArgumentException("addRmsNorm: out must be distinct from residual");
        }
    }

    public static void linear(Tensor x, Tensor weight, Tensor out) {
        rank("linear", "x", x, 2);
        activation("linear", "x", x);
        rank("linear", "weight", weight, 2);
        if (weight.dim(1) != x.dim(1)) {
            throw new IllegalArgumentException("linear: weight " + weight.describe() + " has " + weight.dim(1)
                    + " input features but x " + x.describe() + " has " + x.dim(1));
        }
        matrix("linear", "out", out, x.dim(0), weight.dim(0));
        activationOrF32("linear", "out", out);
        if (out == x) {
            throw new IllegalArgumentException("linear: out must be distinct from x");
        }
    }

    public static void rope(Tensor x, int[] positions, int numHeads, int headDim) {
        rank("rope", "x", x, 2);
        activation("rope", "x", x);
        if (headDim <= 0 || headDim % 2 != 0 || numHeads <= 0) {
            throw new IllegalArgumentException("rope: head dim must be even and > 0 and heads > 0, got heads="
                    + numHeads + " headDim=" + headDim);
        }
        matrix("rope", "x", x, positions.length, numHeads * headDim);
        for (int i = 0; i < positions.length; i++) {
            if (positions[i] < 0) {
                throw new IllegalArgumentException("rope: negative position " + positions[i] + " at row " + i);
            }
        }
    }

    /** @return the number of sequences */
    public static int attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec,
                                       Tensor out, Tensor lse) {
        String op = "attentionPrefill";
        if (seqStarts == null || seqStarts.length < 2 || seqStarts[0] != 0) {
            throw new IllegalArgumentException(op + ": seqStarts must hold B+1 offsets starting at 0, got "
                    + Arrays.toString(seqStarts));
        }
        int t = seqStarts[seqStarts.length - 1];
        for (int s = 1; s < seqStarts.length; s++) {
            if (seqStarts[s] < seqStarts[s - 1]) {
                throw new IllegalArgumentException(op + ": seqStarts must not decrease, got "
                        + Arrays.toString(seqStarts));
            }
        }
        matrix(op, "q", q, t, spec.qWidth());
        matrix(op, "k", k, t, spec.kvWidth());
        matrix(op, "v", v, t, spec.kvWidth());
        matrix(op, "out", out, t, spec.qWidth());
        activation(op, "q", q);
        activation(op, "k", k);
        activation(op, "v", v);
        activation(op, "out", out);
        if (lse != null) {
            matrix(op, "lse", lse, t, spec.numHeads());
            f32(op, "lse", lse);
        }
        return seqStarts.length - 1;
    }

    /** Checks a paged cache pair and returns its block size. */
    public static int kvCache(String op, Tensor keyCache, Tensor valueCache, AttentionSpec spec) {
        return kvCache(op, keyCache, valueCache, spec.numKvHeads(), spec.headDim());
    }

    private static int kvCache(String op, Tensor keyCache, Tensor valueCache, int numKvHeads, int headDim) {
        rank(op, "keyCache", keyCache, 4);
        sameShape(op, "valueCache", valueCache, keyCache);
        notQuantized(op, "keyCache", keyCache);
        if (valueCache.dtype() != keyCache.dtype()) {
            throw new IllegalArgumentException(op + ": valueCache " + valueCache.describe()
                    + " differs in dtype from keyCache " + keyCache.describe());
        }
        if (keyCache.dim(2) != numKvHeads || keyCache.dim(3) != headDim) {
            throw new IllegalArgumentException(op + ": keyCache " + keyCache.describe()
                    + " must be [blocks, blockSize, " + numKvHeads + ", " + headDim + "]");
        }
        return keyCache.dim(1);
    }

    /** The slot of a padding row: kvAppend writes nothing for it (batches padded up to a bucketed size). */
    public static final int PADDING_SLOT = -1;

    public static void kvAppend(Tensor keyCache, Tensor valueCache, Tensor k, Tensor v, int[] slots) {
        String op = "kvAppend";
        rank(op, "keyCache", keyCache, 4);
        int kvWidth = keyCache.dim(2) * keyCache.dim(3);
        kvCache(op, keyCache, valueCache, keyCache.dim(2), keyCache.dim(3));
        matrix(op, "k", k, slots.length, kvWidth);
        matrix(op, "v", v, slots.length, kvWidth);
        activation(op, "k", k);
        activation(op, "v", v);
        long capacity = (long) keyCache.dim(0) * keyCache.dim(1);
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] < PADDING_SLOT || slots[i] >= capacity) {
                throw new IllegalArgumentException(op + ": slot " + slots[i] + " of row " + i
                        + " is outside the cache's " + capacity + " slots (" + PADDING_SLOT + " marks a padding row)");
            }
        }
    }

    /** @return the block size */
    public static int attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables,
                                      int maxBlocksPerSeq, int[] contextLens, AttentionSpec spec, Tensor out,
                                      Tensor lse) {
        String op = "attentionDecode";
        int b = contextLens.length;
        int blockSize = kvCache(op, keyCache, valueCache, spec);
        matrix(op, "q", q, b, spec.qWidth());
        matrix(op, "out", out, b, spec.qWidth());
        activation(op, "q", q);
        activation(op, "out", out);
        if (lse != null) {
            matrix(op, "lse", lse, b, spec.numHeads());
            f32(op, "lse", lse);
        }
        if (maxBlocksPerSeq < 0 || blockTables.length < (long) b * maxBlocksPerSeq) {
            throw new IllegalArgumentException(op + ": blockTables has " + blockTables.length
                    + " entries, need " + b + " x " + maxBlocksPerSeq);
        }
        int numBlocks = keyCache.dim(0);
        for (int s = 0; s < b; s++) {
            int len = contextLens[s];
            int blocks = (len + blockSize - 1) / blockSize;
            if (len < 0 || blocks > maxBlocksPerSeq) {
                throw new IllegalArgumentException(op + ": context length " + len + " of sequence " + s
                        + " needs " + blocks + " blocks, table rows hold " + maxBlocksPerSeq);
            }
            for (int j = 0; j < blocks; j++) {
                int id = blockTables[s * maxBlocksPerSeq + j];
                if (id < 0 || id >= numBlocks) {
                    throw new IllegalArgumentException(op + ": block id " + id + " of sequence " + s
                            + " is outside the cache's " + numBlocks + " blocks");
                }
            }
        }
        return blockSize;
    }

    public static void copyBlocks(Tensor[] caches, int[] src, int[] dst) {
        if (caches.length == 0) {
            throw new IllegalArgumentException("copyBlocks: no caches");
        }
        Tensor cache = caches[0];
        rank("copyBlocks", "cache", cache, 4);
        notQuantized("copyBlocks", "cache", cache);
        for (int c = 1; c < caches.length; c++) {
            if (!Arrays.equals(caches[c].shape(), cache.shape()) || caches[c].dtype() != cache.dtype()) {
                throw new IllegalArgumentException("copyBlocks: cache " + c + " " + caches[c].describe()
                        + " differs from cache 0 " + cache.describe());
            }
        }
        if (src.length != dst.length) {
            throw new IllegalArgumentException("copyBlocks: " + src.length + " sources but " + dst.length
                    + " destinations");
        }
        int n = cache.dim(0);
        for (int i = 0; i < src.length; i++) {
            if (src[i] < 0 || src[i] >= n || dst[i] < 0 || dst[i] >= n) {
                throw new IllegalArgumentException("copyBlocks: pair " + src[i] + " -> " + dst[i]
                        + " is outside the cache's " + n + " blocks");
            }
        }
    }

    public static void elementwise(String op, Tensor a, Tensor b, Tensor out) {
        activation(op, "a", a);
        sameShape(op, "b", b, a);
        activation(op, "b", b);
        sameShape(op, "out", out, a);
        activation(op, "out", out);
    }

    /** @return the head dim */
    public static int rmsNormHeads(Tensor x, Tensor weight, float eps) {
        rank("rmsNormHeads", "x", x, 2);
        activation("rmsNormHeads", "x", x);
        rank("rmsNormHeads", "weight", weight, 1);
        int d = weight.dim(0);
        if (d == 0 || x.dim(1) % d != 0) {
            throw new IllegalArgumentException("rmsNormHeads: weight " + weight.describe() + " does not divide the "
                    + x.dim(1) + " columns of x " + x.describe() + " into heads");
        }
        if (!(eps >= 0) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException("rmsNormHeads: eps must be finite and >= 0, got " + eps);
        }
        return d;
    }

    public static void addBias(Tensor x, Tensor bias) {
        rank("addBias", "x", x, 2);
        activation("addBias", "x", x);
        rank("addBias", "bias", bias, 1);
        if (bias.dim(0) != x.dim(1)) {
            throw new IllegalArgumentException("addBias: bias " + bias.describe() + " does not match the " + x.dim(1)
                    + " columns of x " + x.describe());
        }
    }

    /** {@code gateUp} [N, 2F] and {@code out} [N, F], distinct, activation dtype. @return F */
    public static int swiglu(Tensor gateUp, Tensor out) {
        rank("swiglu", "gateUp", gateUp, 2);
        rank("swiglu", "out", out, 2);
        activation("swiglu", "gateUp", gateUp);
        activation("swiglu", "out", out);
        if (gateUp.dim(0) != out.dim(0) || gateUp.dim(1) != 2L * out.dim(1)) {
            throw new IllegalArgumentException("swiglu: gateUp " + gateUp.describe() + " must be [N, 2F] for out "
                    + out.describe() + " [N, F]");
        }
        if (gateUp == out) {
            throw new IllegalArgumentException("swiglu: out must not be gateUp");
        }
        return out.dim(1);
    }

    /** @return the number of rows */
    public static int logits(String op, Tensor logits) {
        rank(op, "logits", logits, 2);
        activationOrF32(op, "logits", logits);
        if (logits.dim(1) == 0) {
            throw new IllegalArgumentException(op + ": logits " + logits.describe() + " have an empty vocabulary");
        }
        return logits.dim(0);
    }

    public static void sample(Tensor logits, SamplingParams[] params, double[] uniforms) {
        int rows = logits("sample", logits);
        if (params.length != rows || uniforms.length != rows) {
            throw new IllegalArgumentException("sample: " + rows + " rows of logits but " + params.length
                    + " sampling params and " + uniforms.length + " uniforms");
        }
        for (int i = 0; i < rows; i++) {
            if (!(uniforms[i] >= 0 && uniforms[i] < 1)) {
                throw new IllegalArgumentException("sample: uniform " + uniforms[i] + " of row " + i
                        + " is not in [0, 1)");
            }
        }
    }

    // ---------------------------------------------------------------- building blocks

    public static void rank(String op, String name, Tensor t, int rank) {
        notNull(op, name, t);
        if (t.rank() != rank) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must have rank " + rank);
        }
    }

    public static void matrix(String op, String name, Tensor t, int rows, int cols) {
        notNull(op, name, t);
        if (t.rank() != 2 || t.dim(0) != rows || t.dim(1) != cols) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must be [" + rows + ", "
                    + cols + "]");
        }
    }

    public static void vector(String op, String name, Tensor t, int length) {
        notNull(op, name, t);
        if (t.rank() != 1 || t.dim(0) != length) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must be [" + length + "]");
        }
        notQuantized(op, name, t);
    }

    /** Block-quantized tensors are weights of linear and tables of gatherRows only. */
    public static void notQuantized(String op, String name, Tensor t) {
        if (t.dtype().isQuantized()) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " is block-quantized; only "
                    + "linear weights and gatherRows tables may be");
        }
    }

    public static void sameShape(String op, String name, Tensor t, Tensor like) {
        notNull(op, name, t);
        if (!Arrays.equals(t.shape(), like.shape())) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must have shape "
                    + Arrays.toString(like.shape()));
        }
    }

    public static void f32(String op, String name, Tensor t) {
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must be F32");
        }
    }

    /** Activations (inputs and outputs of the block's ops) are in the dtype their backend computes in. */
    public static void activation(String op, String name, Tensor t) {
        DType want = t.backend().activationDType();
        if (t.dtype() != want) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must be " + want
                    + ", the activation dtype of backend " + t.backend().name());
        }
    }

    /** Logits and projection outputs may also be F32 when the activation dtype is narrower. */
    public static void activationOrF32(String op, String name, Tensor t) {
        if (t.dtype() != DType.F32) {
            activation(op, name, t);
        }
    }

    private static void notNull(String op, String name, Tensor t) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + name + " is null");
        }
        if (t.isFreed()) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " was freed");
        }
    }
}
