package io.attnrt.backend.cuda;

/** Placeholder until the split heuristic lands. */
final class DecodeSplits {
    private DecodeSplits() {
    }

    static int splits(int batch, int numKvHeads, int maxContext, int blockSize, int smCount) {
        return 1;
    }

    static int splitSize(int maxContext, int splits, int blockSize) {
        return maxContext;
    }
}
