package io.attnrt.model;

/** Timings of one {@link Generator#generate} call. */
public record GenerationStats(int prefillTokens, long prefillNanos, int decodeTokens, long decodeNanos, int decodeSteps) {
    public double prefillTokensPerSecond() {
        return prefillNanos == 0 ? 0 : prefillTokens * 1e9 / prefillNanos;
    }

    public double decodeTokensPerSecond() {
        return decodeNanos == 0 ? 0 : decodeTokens * 1e9 / decodeNanos;
    }
}
