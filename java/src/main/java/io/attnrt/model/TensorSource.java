package io.attnrt.model;

import java.nio.ByteBuffer;
import java.util.Set;

/**
 * Named checkpoint tensors under their Hugging Face names, whatever file format holds them: a safetensors
 * directory ({@link WeightFiles}) or a GGUF file whose llama.cpp names are translated
 * ({@link io.attnrt.model.gguf.GgufModel}). {@link LlamaWeights#load} reads a model through this.
 */
public interface TensorSource {
    /** What to name in messages: the model directory or file. */
    String label();

    Set<String> names();

    boolean contains(String name);

    TensorInfo info(String name);

    /** The tensor's raw little-endian bytes (exactly {@code info(name).byteSize()} of them), position 0. */
    ByteBuffer data(String name);
}
