package io.attnrt.model.gguf;

import io.attnrt.tensor.DType;
import java.util.Map;

/** ggml's tensor type ids ({@code enum ggml_type}): those attnrt reads, and the names of the rest for errors. */
final class GgmlType {
    private GgmlType() {
    }

    private static final Map<Integer, DType> READ = Map.of(0, DType.F32, 1, DType.F16, 30, DType.BF16,
            8, DType.Q8_0, 2, DType.Q4_0, 12, DType.Q4_K, 13, DType.Q5_K, 14, DType.Q6_K);

    private static final String[] NAMES = {"F32", "F16", "Q4_0", "Q4_1", null, null, "Q5_0", "Q5_1", "Q8_0", "Q8_1",
        "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
        "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16", null, null, null, "TQ1_0", "TQ2_0",
        null, null, null, "MXFP4"};

    /** The dtype of a ggml type id, or null when attnrt does not read it. */
    static DType dtype(int id) {
        return READ.get(id);
    }

    static String describe(int id) {
        String name = id >= 0 && id < NAMES.length ? NAMES[id] : null;
        return name == null ? "unknown ggml type id " + Integer.toUnsignedString(id) : "type " + name + " (id " + id + ")";
    }

    static String supported() {
        return "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K and Q6_K";
    }
}
