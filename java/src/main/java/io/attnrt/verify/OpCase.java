package io.attnrt.verify;

import io.attnrt.backend.Backend;

/**
 * One op at one shape with its own seeded random inputs. {@link #run} uploads the same host data to both
 * backends, runs the op on each, downloads and compares; it frees everything it allocated on both, also
 * when the candidate throws. Only the {@link Backend} interface is used, so any backend can be checked.
 */
public interface OpCase {

    /** The Backend method under test, e.g. {@code linear}. */
    String op();

    /** Shapes and options in words, unique within a suite together with {@link #op()}. */
    String shape();

    /**
     * Runs the case. Never throws for a candidate failure: a candidate exception becomes a failed
     * {@link OpResult} carrying the exception's text.
     */
    OpResult run(Backend candidate, Backend reference);
}
