package io.attnrt.backend;

/**
 * How rotary embeddings pair up the dimensions of a head.
 *
 * <ul>
 *   <li>{@link #ROTATE_HALF}: Hugging Face Llama — dimension i pairs with i + d/2.</li>
 *   <li>{@link #INTERLEAVED}: GPT-J / llama.cpp "normal" — dimension 2i pairs with 2i + 1.</li>
 * </ul>
 * In both, pair p (0 ≤ p &lt; d/2) rotates by angle pos · theta^(−2p/d).
 */
public enum RopeStyle {
    ROTATE_HALF,
    INTERLEAVED
}
