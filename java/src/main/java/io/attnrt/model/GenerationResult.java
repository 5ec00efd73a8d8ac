package io.attnrt.model;

/**
 * What one request produced.
 *
 * @param generated the new tokens (possibly fewer than asked if the request failed part way)
 * @param error     null on success, else why this request stopped (e.g. the KV cache ran out)
 */
public record GenerationResult(int[] prompt, int[] generated, String error) {
    public boolean ok() {
        return error == null;
    }
}
