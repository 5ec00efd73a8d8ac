package io.attnrt.backend.cpu;

/**
 * One worker's reusable buffers. They only grow, so after the first call of a given shape no op
 * allocates; sizes are per tile (O(tile·headDim)), never proportional to a sequence length squared.
 */
final class Scratch {
    private float[] queries = new float[0];
    private float[] accumulators = new float[0];
    private float[] scores = new float[0];
    private float[] keysT = new float[0];
    private float[] keys = new float[0];
    private float[] values = new float[0];
    private float[] rowMax = new float[0];
    private float[] rowSum = new float[0];
    private float[] weights = new float[0];
    private float[] angles = new float[0];
    private int[] keyOffsets = new int[0];
    private int[] valueOffsets = new int[0];
    private int[] gatherIndex = new int[0];
    private float[] stage = new float[0];

    private static float[] grow(float[] a, int n) {
        return a.length >= n ? a : new float[Math.max(n, a.length + a.length / 2)];
    }

    private static int[] grow(int[] a, int n) {
        return a.length >= n ? a : new int[Math.max(n, a.length + a.length / 2)];
    }

    float[] queries(int n) {
        return queries = grow(queries, n);
    }

    float[] accumulators(int n) {
        return accumulators = grow(accumulators, n);
    }

    float[] scores(int n) {
        return scores = grow(scores, n);
    }

    float[] keysT(int n) {
        return keysT = grow(keysT, n);
    }

    float[] keys(int n) {
        return keys = grow(keys, n);
    }

    float[] values(int n) {
        return values = grow(values, n);
    }

    float[] rowMax(int n) {
        return rowMax = grow(rowMax, n);
    }

    float[] rowSum(int n) {
        return rowSum = grow(rowSum, n);
    }

    /** Converted weight tiles (GEMM) or a norm weight vector. */
    float[] weights(int n) {
        return weights = grow(weights, n);
    }

    float[] angles(int n) {
        return angles = grow(angles, n);
    }

    int[] keyOffsets(int n) {
        return keyOffsets = grow(keyOffsets, n);
    }

    float[] stage(int n) {
        return stage = grow(stage, n);
    }

    int[] gatherIndex(int n) {
        return gatherIndex = grow(gatherIndex, n);
    }

    int[] valueOffsets(int n) {
        return valueOffsets = grow(valueOffsets, n);
    }
}
