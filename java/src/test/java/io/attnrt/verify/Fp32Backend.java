package io.attnrt.verify;

import io.attnrt.backend.AttentionSpec;
import io.attnrt.backend.OpChecks;
import io.attnrt.backend.RopeSpec;
import io.attnrt.backend.RopeStyle;
import io.attnrt.backend.reference.ReferenceBackend;
import io.attnrt.backend.Tensor;

/**
 * What an honest fast backend computes: every sum, exponential and angle in fp32, attention as a
 * streaming (online) softmax, sums serial (the least accurate common order). Used to prove the suite's
 * tolerances admit fp32 arithmetic while the broken backends of {@link OpSuiteTest} still fail.
 */
final class Fp32Backend extends ReferenceBackend {

    @Override
    public String name() {
        return "fp32-test";
    }

    @Override
    public void linear(Tensor x, Tensor weight, Tensor out, boolean accumulate) {
        OpChecks.linear(x, weight, out);
        float[] xs = download(x);
        float[] w = download(weight);
        int n = x.dim(0);
        int in = x.dim(1);
        int outFeatures = weight.dim(0);
        float[] o = accumulate ? download(out) : new float[n * outFeatures];
        for (int t = 0; t < n; t++) {
            for (int f = 0; f < outFeatures; f++) {
                float sum = 0f;
                for (int i = 0; i < in; i++) {
                    sum += xs[t * in + i] * w[f * in + i];
                }
                o[t * outFeatures + f] += sum;
            }
        }
        write(out, o);
    }

    @Override
    public void rmsNorm(Tensor x, Tensor weight, float eps, Tensor out) {
        OpChecks.rmsNorm("rmsNorm", x, weight, eps, out);
        write(out, norm(download(x), download(weight), eps));
    }

    @Override
    public void addRmsNorm(Tensor residual, Tensor delta, Tensor weight, float eps, Tensor out) {
        OpChecks.addRmsNorm(residual, delta, weight, eps, out);
        float[] r = download(residual);
        float[] d = download(delta);
        for (int i = 0; i < r.length; i++) {
            r[i] += d[i];
        }
        write(residual, r);
        write(out, norm(r, download(weight), eps));
    }

    private static float[] norm(float[] x, float[] w, float eps) {
        int cols = w.length;
        float[] o = new float[x.length];
        for (int row = 0; row < x.length / cols; row++) {
            float ss = 0f;
            for (int c = 0; c < cols; c++) {
                ss += x[row * cols + c] * x[row * cols + c];
            }
            float inv = (float) (1 / Math.sqrt(ss / cols + eps));
            for (int c = 0; c < cols; c++) {
                o[row * cols + c] = x[row * cols + c] * inv * w[c];
            }
        }
        return o;
    }

    @Override
    public void rope(Tensor x, int[] positions, int numHeads, int headDim, RopeSpec rope) {
        OpChecks.rope(x, positions, numHeads, headDim);
        float[] xs = download(x);
        int half = headDim / 2;
        for (int n = 0; n < positions.length; n++) {
            for (int h = 0; h < numHeads; h++) {
                int base = (n * numHeads + h) * headDim;
                for (int p = 0; p < half; p++) {
                    float invFreq = (float) Math.pow(rope.theta(), -2.0 * p / headDim);
                    float angle = positions[n] * invFreq;
                    float cos = (float) Math.cos(angle);
                    float sin = (float) Math.sin(angle);
                    int a = base + (rope.style() == RopeStyle.ROTATE_HALF ? p : 2 * p);
                    int b = base + (rope.style() == RopeStyle.ROTATE_HALF ? p + half : 2 * p + 1);
                    float xa = xs[a];
                    float xb = xs[b];
                    xs[a] = xa * cos - xb * sin;
                    xs[b] = xa * sin + xb * cos;
                }
            }
        }
        write(x, xs);
    }

    @Override
    public void swiglu(Tensor gateUp, Tensor out) {
        int f = OpChecks.swiglu(gateUp, out);
        float[] gu = download(gateUp);
        float[] o = new float[(int) out.numel()];
        for (int i = 0; i < o.length; i++) {
            float g = gu[i / f * 2 * f + i % f];
            o[i] = g / (1f + (float) Math.exp(-g)) * gu[i / f * 2 * f + f + i % f];
        }
        write(out, o);
    }

    @Override
    public void attentionPrefill(Tensor q, Tensor k, Tensor v, int[] seqStarts, AttentionSpec spec, Tensor out,
                                 Tensor lse) {
        OpChecks.attentionPrefill(q, k, v, seqStarts, spec, out, lse);
        float[] qs = download(q);
        float[] ks = download(k);
        float[] vs = download(v);
        int tokens = seqStarts[seqStarts.length - 1];
        float[] o = new float[tokens * spec.qWidth()];
        float[] l = new float[tokens * spec.numHeads()];
        for (int s = 0; s + 1 < seqStarts.length; s++) {
            int start = seqStarts[s];
            int length = seqStarts[s + 1] - start;
            int[] rows = new int[length];
            for (int j = 0; j < length; j++) {
                rows[j] = start + j;
            }
            for (int i = 0; i < length; i++) {
                for (int h = 0; h < spec.numHeads(); h++) {
                    online(spec, qs, (start + i) * spec.qWidth() + h * spec.headDim(), ks, vs, rows, i, h, o, l,
                            (start + i) * spec.numHeads() + h);
                }
            }
        }
        write(out, o);
        if (lse != null) {
            write(lse, l);
        }
    }

    @Override
    public void attentionDecode(Tensor q, Tensor keyCache, Tensor valueCache, int[] blockTables, int maxBlocksPerSeq,
                                int[] contextLens, AttentionSpec spec, Tensor out, Tensor lse) {
        int blockSize = OpChecks.attentionDecode(q, keyCache, valueCache, blockTables, maxBlocksPerSeq, contextLens,
                spec, out, lse);
        float[] qs = download(q);
        float[] ks = download(keyCache);
        float[] vs = download(valueCache);
        float[] o = new float[qs.length];
        float[] l = new float[contextLens.length * spec.numHeads()];
        for (int b = 0; b < contextLens.length; b++) {
            int length = contextLens[b];
            int[] rows = new int[length];
            for (int t = 0; t < length; t++) {
                rows[t] = blockTables[b * maxBlocksPerSeq + t / blockSize] * blockSize + t % blockSize;
            }
            for (int h = 0; h < spec.numHeads(); h++) {
                online(spec, qs, b * spec.qWidth() + h * spec.headDim(), ks, vs, rows, length - 1, h, o, l,
                        b * spec.numHeads() + h);
            }
        }
        write(out, o);
        if (lse != null) {
            write(lse, l);
        }
    }

    /** Streaming softmax in fp32: running max, rescaled running sum and accumulator. */
    private static void online(AttentionSpec spec, float[] q, int qOffset, float[] k, float[] v, int[] rows, int i,
                               int head, float[] out, float[] lse, int lseIndex) {
        int d = spec.headDim();
        int kvOffset = head / spec.groupSize() * d;
        float max = Float.NEGATIVE_INFINITY;
        float sum = 0f;
        float[] acc = new float[d];
        for (int j = 0; j < rows.length; j++) {
            if (!spec.visible(i, j)) {
                continue;
            }
            int base = rows[j] * spec.kvWidth() + kvOffset;
            float dot = 0f;
            for (int e = 0; e < d; e++) {
                dot += q[qOffset + e] * k[base + e];
            }
            float score = dot * spec.scale();
            if (score > max) {
                float correction = (float) Math.exp(max - score);
                sum *= correction;
                for (int e = 0; e < d; e++) {
                    acc[e] *= correction;
                }
                max = score;
            }
            float p = (float) Math.exp(score - max);
            sum += p;
            for (int e = 0; e < d; e++) {
                acc[e] += p * v[base + e];
            }
        }
        for (int e = 0; e < d; e++) {
            out[qOffset + e] = sum == 0f ? 0f : acc[e] / sum;
        }
        lse[lseIndex] = sum == 0f ? Float.NEGATIVE_INFINITY : max + (float) Math.log(sum);
    }
}
