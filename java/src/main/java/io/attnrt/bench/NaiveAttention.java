package io.attnrt.bench;

import io.attnrt.backend.AttentionSpec;

/**
 * The textbook attention a runtime is measured against: per head, the whole L×L score matrix
 * S = QKᵀ·scale is materialised, softmaxed row by row, then multiplied by V. Plain float loops, one thread.
 * Its memory grows as L² — the cost FlashAttention avoids.
 */
public final class NaiveAttention {
    private NaiveAttention() {
    }

    /** q [L, H·d], k/v [L, KV·d] row-major; returns out [L, H·d]. */
    public static float[] run(float[] q, float[] k, float[] v, int length, AttentionSpec spec) {
        int h = spec.numHeads();
        int d = spec.headDim();
        int qw = spec.qWidth();
        int kw = spec.kvWidth();
        float[] out = new float[length * qw];
        float[] scores = new float[length * length];
        for (int head = 0; head < h; head++) {
            int kvHead = head / spec.groupSize();
            for (int i = 0; i < length; i++) {
                for (int j = 0; j < length; j++) {
                    float s;
                    if (spec.visible(i, j)) {
                        s = 0;
                        for (int c = 0; c < d; c++) {
                            s += q[i * qw + head * d + c] * k[j * kw + kvHead * d + c];
                        }
                        s *= spec.scale();
                    } else {
                        s = Float.NEGATIVE_INFINITY;
                    }
                    scores[i * length + j] = s;
                }
            }
            for (int i = 0; i < length; i++) {
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < length; j++) {
                    max = Math.max(max, scores[i * length + j]);
                }
                float sum = 0;
                for (int j = 0; j < length; j++) {
                    float e = (float) Math.exp(scores[i * length + j] - max);
                    scores[i * length + j] = e;
                    sum += e;
                }
                for (int j = 0; j < length; j++) {
                    float p = scores[i * length + j] / sum;
                    if (p == 0) {
                        continue;
                    }
                    for (int c = 0; c < d; c++) {
                        out[i * qw + head * d + c] += p * v[j * kw + kvHead * d + c];
                    }
                }
            }
        }
        return out;
    }
}
