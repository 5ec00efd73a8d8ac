package io.attnrt.model;

/**
 * A model file (config.json, safetensors, shard index) that is malformed, inconsistent or unsupported.
 * The message names the file and, where there is one, the field or tensor at fault. It is an
 * {@link IllegalArgumentException} because the file is the caller's input.
 */
public class ModelFormatException extends IllegalArgumentException {
    public ModelFormatException(String message) {
        super(message);
    }

    public ModelFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
