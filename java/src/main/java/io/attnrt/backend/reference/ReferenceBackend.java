package io.attnrt.backend.reference;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.OpChecks;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.SamplingParams;
import io.attnrt.backend.host.HostMemoryBackend;
import io.attnrt.backend.host.HostTensor;
import io.attnrt.backend.Tensor;
import java.util.Arrays;

/**
 * The oracle every other backend is checked against: each op of {@link io.attnrt.backend.Backend} written
 * as directly as its javadoc reads — plain loops, one thread, every sum accumulated in {@code double} and
 * rounded to float once, when stored. Attention materialises a whole score row per query instead of an
 * online softmax, so its result depends on nothing but the definition.
 *
 * <p>Weights and caches of any dtype are read as the floats they hold (F16/BF16 widened exactly), so a
 * low-precision input costs no extra error here; outputs are F32. Speed is a non-goal beyond keeping the
 * op sweeps of the tests short.
 *
 * <p>Not final: tests derive deliberately broken variants from it to prove the op harness catches bugs.
 */
public class ReferenceBackend extends HostMemoryBackend {

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public String description() {
        return "reference: plain loops, double accumulation (the oracle)";
    }

    // ---------------------------------------------------------------- helpers

    /** All elements of {@code t} as floats (a copy). */
    private static float[] values(HostTensor t) {
        float[] out = new float[(int) t.numel()];
        t.getRow(0, out, 0, out.length);
        return out;
    }

    // ---------------------------------------------------------------- ops

    @Override
    public void gatherRows(Tensor table, int[] rows, Tensor out) {
        OpChecks.gatherRows(table, rows, out);
        HostTensor src = own(table, "gatherRows");
        HostTensor dst = own(out, "gatherRows");
        int cols = table.dim(1);
        float[] row = new float[cols];
        for (int i = 0; i < rows.length; i++) {
            src.getRow(rows[i] * cols, row, 0, cols);
            for (int c = 0; c < cols; c++) {
                dst.set(i * cols + c, row[c]);
            }
        }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        OpChecks.rmsNorm("rmsNorm", x, weight, eps, out);
        HostTensor xs = own(x, "rmsNorm");
        HostTensor w = own(weight, "rmsNorm");
        HostTensor o = own(out, "rmsNorm");
        int cols = x.dim(1);
        float[] row = new float[cols];
        for (int n = 0; n < x.dim(0); n++) {
            xs.getRow(n * cols, row, 0, cols); // copied first: out may be x
            normalizeRow(row, w, eps, o, n * cols);
        }
    }

    @Override
    public void rmsNormHeads(Tensor x, Tensor weight, float eps) {
        int d = OpChecks.rmsNormHeads(x, weight, eps);
        HostTensor xs = own(x, "rmsNormHeads");
        HostTensor w = own(weight, "rmsNormHeads");
        float[] row = new float[d];
        for (int off = 0; off < x.numel(); off += d) {
            xs.getRow(off, row, 0, d);
            normalizeRow(row, w, eps, xs, off);
        }
    }

    /** Writes rmsNorm(row)·weight to {@code out} starting at {@code offset}. */
    private static void normalizeRow(float[] row, HostTensor weight, float eps, HostTensor out, int offset) {
        double sumSquares = 0;
        for (float v : row) {
            sumSquares += (double) v * v;
        }
        double inverseRms = 1.0 / Math.sqrt(sumSquares / row.length + eps);
        for (int c = 0; c < row.length; c++) {
            out.set(offset + c, (float) (row[c] * inverseRms * weight.get(c)));
        }
    }

    @Override
    public void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
        OpChecks.addRmsNorm(residual, delta, weight, eps, out);
        HostTensor r = own(residual, "addRmsNorm");
        HostTensor d = own(delta, "addRmsNorm");
        HostTensor w = own(weight, "addRmsNorm");
        HostTensor o = own(out, "addRmsNorm");
        int cols = residual.dim(1);
        float[] row = new float[cols];
        for (int n = 0; n < residual.dim(0); n++) {
            for (int c = 0; c < cols; c++) {
                int i = n * cols + c;
                // The stored residual is F32, so the norm is taken of the rounded sum, as any backend must.
                row[c] = r.get(i) + d.get(i);
                r.set(i, row[c]);
            }
            normalizeRow(row, w, eps, o, n * cols);
        }
    }

    @Override
    public void linear(Tensor x, Tensor weight, Tensor out, boolean accumulate) {
        OpChecks.linear(x, weight, out);
        HostTensor xs = own(x, "linear");
        HostTensor w = own(weight, "linear");
        HostTensor o = own(out, "linear");
        int tokens = x.dim(0);
        int in = x.dim(1);
        int outFeatures = weight.dim(0);
        float[] xv = values(xs);
        float[] wv = values(w);
        for (int n = 0; n < tokens; n++) {
            for (int f = 0; f < outFeatures; f++) {
                double sum = 0;
                for (int i = 0; i < in; i++) {
                    sum += (double) xv[n * in + i] * wv[f * in + i];
                }
                o.set(n * outFeatures + f, (float) (accumulate ? sum + o.get(n * outFeatures + f) : sum));
            }
        }
    }

    @Override
    public void rope(Tensor x, int[] positions, int numHeads, int headDim, RopeSpec rope) {
        OpChecks.rope(x, positions, numHeads, headDim);
        if (rope == null) {
            throw new IllegalArgumentException("rope: rope spec is null");
        }
        HostTensor xs = own(x, "rope");
        int width = numHeads * headDim;
        int half = headDim / 2;
        double[] invFreq = rope.inverseFrequencies(headDim);
        for (int n = 0; n < positions.length; n++) {
            for (int h = 0; h < numHeads; h++) {
                int base = n * width + h * headDim;
                for (int p = 0; p < half; p++) {
                    double angle = positions[n] * invFreq[p];
                    double cos = Math.cos(angle);
                    double sin = Math.sin(angle);
                    int a = base + (rope.style() == RopeStyle.ROTATE_HALF ? p : 2 * p);
                    int b = base + (rope.style() == RopeStyle.ROTATE_HALF ? p + half : 2 * p + 1);
                    double xa = xs.get(a);
                    double xb = xs.get(b);
                    xs.set(a, (float) (xa * cos - xb * sin));
                    xs.set(b, (float) (xa * sin + xb * cos));
                }
            }
        }
    }

    @Override
    public void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out,
                                 Tensor lse) {
        int sequences = OpChecks.attentionPrefill(q, k, v, seqStarts, spec, out, lse);
        float[] qv = values(own(q, "attentionPrefill"));
        float[] kv = values(own(k, "attentionPrefill"));
        float[] vv = values(own(v, "attentionPrefill"));
        HostTensor o = own(out, "attentionPrefill");
        HostTensor l = lse == null ? null : own(lse, "attentionPrefill");
        int qWidth = spec.qWidth();
        int kvWidth = spec.kvWidth();
        int dim = spec.headDim();
        double[] result = new double[dim + 1];
        for (int s = 0; s < sequences; s++) {
            int start = seqStarts[s];
            int length = seqStarts[s + 1] - start;
            int[] keyOffsets = new int[length];
            for (int i = 0; i < length; i++) {
                int row = start + i;
                for (int h = 0; h < spec.numHeads(); h++) {
                    int kvHead = h / spec.groupSize();
                    for (int j = 0; j < length; j++) {
                        keyOffsets[j] = (start + j) * kvWidth + kvHead * dim;
                    }
                    attendOne(spec, qv, row * qWidth + h * dim, i, kv, vv, keyOffsets, result);
                    store(result, o, row * qWidth + h * dim, l, row * spec.numHeads() + h);
                }
            }
        }
    }

    /**
     * One query head against the keys at positions [0, keyOffsets.length) of its sequence, the query
     * at position {@code i}; the head vector of position j starts at keyOffsets[j] in keys and values.
     * Writes the output vector to result[0..dim) and the log-sum-exp to result[dim]; a query with no
     * visible key gets zeros and −∞.
     */
    private static void attendOne(AttentionSpec spec, float[] q, int qOffset, int i, float[] keys,
                                  float[] values, int[] keyOffsets, double[] result) {
        int length = keyOffsets.length;
        int dim = spec.headDim();
        double scale = spec.scale();
        double[] scores = new double[length];
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < length; j++) {
            if (!spec.visible(i, j)) {
                scores[j] = Double.NEGATIVE_INFINITY;
                continue;
            }
            double dot = 0;
            for (int d = 0; d < dim; d++) {
                dot += (double) q[qOffset + d] * keys[keyOffsets[j] + d];
            }
            scores[j] = dot * scale;
            max = Math.max(max, scores[j]);
        }
        Arrays.fill(result, 0.0);
        if (max == Double.NEGATIVE_INFINITY) {
            result[dim] = Double.NEGATIVE_INFINITY;
            return;
        }
        double sum = 0;
        for (int j = 0; j < length; j++) {
            if (scores[j] == Double.NEGATIVE_INFINITY) {
                continue;
            }
            double weight = Math.exp(scores[j] - max);
            sum += weight;
            for (int d = 0; d < dim; d++) {
                result[d] += weight * values[keyOffsets[j] + d];
            }
        }
        for (int d = 0; d < dim; d++) {
            result[d] /= sum;
        }
        result[dim] = max + Math.log(sum);
    }

    private static void store(double[] result, HostTensor out, int outOffset, HostTensor lse, int lseIndex) {
        int dim = result.length - 1;
        for (int d = 0; d < dim; d++) {
            out.set(outOffset + d, (float) result[d]);
        }
        if (lse != null) {
            lse.set(lseIndex, (float) result[dim]);
        }
    }

    @Override
    public void kvAppend(Tensor keyCache, Tensor valueCache, Tensor k, Tensor v, int[] slots) {
        OpChecks.kvAppend(keyCache, valueCache, k, v, slots);
        HostTensor kc = own(keyCache, "kvAppend");
        HostTensor vc = own(valueCache, "kvAppend");
        HostTensor ks = own(k, "kvAppend");
        HostTensor vs = own(v, "kvAppend");
        // [numBlocks, blockSize, ...] flattens so that slot s starts at s · kvWidth.
        int kvWidth = keyCache.dim(2) * keyCache.dim(3);
        for (int n = 0; n < slots.length; n++) {
            if (slots[n] == OpChecks.PADDING_SLOT) {
                continue;
            }
            for (int c = 0; c < kvWidth; c++) {
                kc.set(slots[n] * kvWidth + c, ks.get(n * kvWidth + c));
                vc.set(slots[n] * kvWidth + c, vs.get(n * kvWidth + c));
            }
        }
    }

    @Override
    public void attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables,
                                int maxBlocksPerSeq, int[] contextLens, AttentionSpec spec, Tensor out,
                                Tensor lse) {
        int blockSize = OpChecks.attentionDecode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq,
                contextLens, spec, out, lse);
        float[] qv = values(own(q, "attentionDecode"));
        float[] kc = values(own(keyCache, "attentionDecode"));
        float[] vc = values(own(valueCache, "attentionDecode"));
        HostTensor o = own(out, "attentionDecode");
        HostTensor l = lse == null ? null : own(lse, "attentionDecode");
        int qWidth = spec.qWidth();
        int kvWidth = spec.kvWidth();
        int dim = spec.headDim();
        double[] result = new double[dim + 1];
        for (int b = 0; b < contextLens.length; b++) {
            int length = contextLens[b];
            int tableRow = b * maxBlocksPerSeq;
            int[] keyOffsets = new int[length];
            for (int h = 0; h < spec.numHeads(); h++) {
                int kvHead = h / spec.groupSize();
                for (int t = 0; t < length; t++) {
                    int slot = blockTables[tableRow + t / blockSize] * blockSize + t % blockSize;
                    keyOffsets[t] = slot * kvWidth + kvHead * dim;
                }
                attendOne(spec, qv, b * qWidth + h * dim, length - 1, kc, vc, keyOffsets, result);
                store(result, o, b * qWidth + h * dim, l, b * spec.numHeads() + h);
            }
        }
    }

    @Override
    public void copyBlocks(Tensor[] caches, int[] src, int[] dst) {
        OpChecks.copyBlocks(caches, src, dst);
        for (Tensor cache : caches) {
            copyBlocks(own(cache, "copyBlocks"), src, dst);
        }
    }

    private void copyBlocks(HostTensor c, int[] src, int[] dst) {
        int blockElements = c.dim(1) * c.dim(2) * c.dim(3);
        // Every copy reads the cache as it was before the call (as parallel device copies would), so a
        // block that is both a source and a destination gives the same answer on every backend.
        float[] before = values(c);
        for (int i = 0; i < src.length; i++) {
            for (int e = 0; e < blockElements; e++) {
                c.set(dst[i] * blockElements + e, before[src[i] * blockElements + e]);
            }
        }
    }

    @Override
    public void swiglu(Tensor gateUp, Tensor out) {
        int f = OpChecks.swiglu(gateUp, out);
        HostTensor gu = own(gateUp, "swiglu");
        HostTensor o = own(out, "swiglu");
        for (int r = 0; r < out.rows(); r++) {
            for (int c = 0; c < f; c++) {
                double x = gu.get(2 * r * f + c);
                // For x → −∞, exp(−x) overflows to +∞ and x/∞ = −0: finite, no NaN.
                double silu = x / (1.0 + Math.exp(-x));
                o.set(r * f + c, (float) (silu * gu.get(2 * r * f + f + c)));
            }
        }
    }

    @Override
    public void addBias(Tensor x, Tensor bias) {
        OpChecks.addBias(x, bias);
        HostTensor hx = own(x, "addBias");
        float[] b = values(own(bias, "addBias"));
        int cols = x.dim(1);
        for (int i = 0; i < (int) x.numel(); i++) {
            hx.set(i, (float) ((double) hx.get(i) + b[i % cols]));
        }
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        OpChecks.elementwise("add", a, b, out);
        HostTensor x = own(a, "add");
        HostTensor y = own(b, "add");
        HostTensor o = own(out, "add");
        for (int i = 0; i < (int) a.numel(); i++) {
            o.set(i, (float) ((double) x.get(i) + y.get(i)));
        }
    }

    @Override
    public int[] argmax(Tensor logits) {
        int rows = OpChecks.logits("argmax", logits);
        HostTensor l = own(logits, "argmax");
        int vocab = logits.dim(1);
        int[] result = new int[rows];
        float[] row = new float[vocab];
        for (int b = 0; b < rows; b++) {
            l.getRow(b * vocab, row, 0, vocab);
            result[b] = argmaxOf(row);
        }
        return result;
    }

    /** Index of the largest value, the lowest one among ties (strict > keeps the first). */
    private static int argmaxOf(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) {
            if (row[i] > row[best]) {
                best = i;
            }
        }
        return best;
    }

    @Override
    public int[] sample(Tensor logits, SamplingParams[] params, double[] uniforms) {
        OpChecks.sample(logits, params, uniforms);
        HostTensor l = own(logits, "sample");
        int rows = logits.dim(0);
        int vocab = logits.dim(1);
        int[] result = new int[rows];
        float[] row = new float[vocab];
        for (int b = 0; b < rows; b++) {
            if (params[b] == null) {
                throw new IllegalArgumentException("sample: sampling params of row " + b + " are null");
            }
        }
        for (int b = 0; b < rows; b++) {
            l.getRow(b * vocab, row, 0, vocab);
            result[b] = sampleRow(row, params[b], uniforms[b]);
        }
        return result;
    }

    /**
     * The numbered procedure of {@link SamplingParams}, step by step and in full (every weight, a sort of
     * the whole vocabulary): the oracle the other backends are held to.
     */
    private static int sampleRow(float[] logits, SamplingParams params, double u) {
        // 1. greedy
        if (params.greedy()) {
            return argmaxOf(logits);
        }
        int vocab = logits.length;
        float max = Float.NEGATIVE_INFINITY;
        for (float logit : logits) {
            if (Float.isNaN(logit)) {
                return 0; // no distribution
            }
            max = Math.max(max, logit);
        }
        if (Float.isInfinite(max)) {
            return 0; // a +inf logit, or every logit -inf: no distribution
        }
        // 2. w_i = exp(l_i / T - max / T), unnormalised; the largest is exactly 1
        double temperature = params.temperature();
        double shift = max / temperature;
        double[] w = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            w[i] = Math.exp(logits[i] / temperature - shift);
        }
        // 3. order by logit descending, lower index first among ties (-0 and +0 tie); keep the first topK
        Integer[] order = new Integer[vocab];
        for (int i = 0; i < vocab; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (i, j) -> logits[i] > logits[j] ? -1 : logits[i] < logits[j] ? 1 : Integer.compare(i, j));
        int kept = params.topK() > 0 ? Math.min(params.topK(), vocab) : vocab;
        boolean[] inTopK = new boolean[vocab];
        for (int r = 0; r < kept; r++) {
            inTopK[order[r]] = true;
        }
        // the kept sum S: in ascending index order
        double keptSum = 0;
        for (int i = 0; i < vocab; i++) {
            if (inTopK[i]) {
                keptSum += w[i];
            }
        }
        // 4. the shortest prefix whose running sum (along the order) reaches topP · S; S becomes that sum
        if (params.topP() < 1f) {
            double target = params.topP() * keptSum;
            double cumulative = 0;
            int prefix = 0;
            while (prefix < kept) {
                cumulative += w[order[prefix]];
                prefix++;
                if (cumulative >= target) {
                    break;
                }
            }
            kept = prefix;
            keptSum = cumulative;
        }
        // 5. the first kept token whose running sum (along the order) exceeds u · S
        double threshold = u * keptSum;
        double cumulative = 0;
        int lastPositive = order[0];
        for (int r = 0; r < kept; r++) {
            int token = order[r];
            cumulative += w[token];
            if (w[token] > 0) {
                lastPositive = token;
            }
            if (cumulative > threshold) {
                return token;
            }
        }
        // Only reachable when u · S rounds above the running sum: the last kept token with any weight.
        return lastPositive;
    }
}
