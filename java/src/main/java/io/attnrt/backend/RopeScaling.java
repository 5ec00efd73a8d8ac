package io.attnrt.backend;

/**
 * How a checkpoint stretches RoPE beyond the context it was trained on, as its config.json
 * {@code rope_scaling} says. Each kind rescales the inverse frequencies θ^(−2i/d), so every backend applies
 * it through {@link RopeSpec#inverseFrequencies}.
 *
 * <ul>
 *   <li>{@code NONE}: plain RoPE.</li>
 *   <li>{@code LINEAR} (position interpolation): every frequency divided by {@code factor}.</li>
 *   <li>{@code LLAMA3} (Llama 3.1/3.2): with wavelength λ = 2π / f and the original context C, frequencies
 *       with λ &lt; C / highFreqFactor stay, those with λ &gt; C / lowFreqFactor are divided by
 *       {@code factor}, and those between blend the two: f·((1 − s) / factor + s) with
 *       s = (C / λ − lowFreqFactor) / (highFreqFactor − lowFreqFactor) (transformers'
 *       {@code _compute_llama3_parameters}).</li>
 * </ul>
 */
public record RopeScaling(Kind kind, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) {
    public enum Kind { NONE, LINEAR, LLAMA3 }

    public static final RopeScaling NONE = new RopeScaling(Kind.NONE, 1, 0, 0, 0);

    public RopeScaling {
        if (kind == null) {
            throw new IllegalArgumentException("rope scaling kind is required");
        }
        if (kind != Kind.NONE && !(factor >= 1 && Double.isFinite(factor))) {
            throw new IllegalArgumentException("rope scaling factor must be a finite number >= 1, got " + factor);
        }
        if (kind == Kind.LLAMA3 && !(lowFreqFactor > 0 && highFreqFactor > lowFreqFactor
                && Double.isFinite(highFreqFactor) && originalMaxPositions > 0)) {
            throw new IllegalArgumentException("llama3 rope scaling needs 0 < low_freq_factor < high_freq_factor and "
                    + "original_max_position_embeddings > 0, got low " + lowFreqFactor + ", high " + highFreqFactor
                    + ", original " + originalMaxPositions);
        }
    }

    public static RopeScaling linear(double factor) {
        return new RopeScaling(Kind.LINEAR, factor, 0, 0, 0);
    }

    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor,
                                     int originalMaxPositions) {
        return new RopeScaling(Kind.LLAMA3, factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
    }

    /** The scaled inverse frequency for an unscaled one. */
    public double apply(double invFreq) {
        return switch (kind) {
            case NONE -> invFreq;
            case LINEAR -> invFreq / factor;
            case LLAMA3 -> {
                double wavelength = 2 * Math.PI / invFreq;
                if (wavelength < originalMaxPositions / highFreqFactor) {
                    yield invFreq;
                }
                if (wavelength > originalMaxPositions / lowFreqFactor) {
                    yield invFreq / factor;
                }
                double s = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                yield (1 - s) * invFreq / factor + s * invFreq;
            }
        };
    }
}
