package io.attnrt.cli;

import io.attnrt.backend.SamplingParams;
import io.attnrt.tensor.DType;
import io.attnrt.text.StopStrings;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The options of every generating command (run, chat): where the model runs, how tokens are drawn, when the
 * text stops, the shape of the KV cache.
 */
final class GenerationOptions {
    @Option(names = "--temperature", defaultValue = "0", description = "0 = greedy (default ${DEFAULT-VALUE})")
    float temperature;

    @Option(names = "--top-k", defaultValue = "0", description = "keep the k most likely tokens, 0 = off")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", description = "nucleus sampling mass, 1 = off")
    float topP;

    @Option(names = "--seed", defaultValue = "0", description = "random seed of the sampler")
    long seed;

    @Option(names = "--stop", paramLabel = "TEXT", description = "end the text before this string; repeatable "
            + "(the string itself is not shown)")
    List<String> stops;

    @Option(names = "--backend", defaultValue = "auto", description = "auto, cuda, cpu or reference (default ${DEFAULT-VALUE})")
    String backend;

    @Option(names = "--kv-block-size", defaultValue = "16", description = "tokens per KV cache block")
    int blockSize;

    @Option(names = "--kv-dtype", defaultValue = "F32", description = "KV cache element type: F32, F16, BF16")
    DType kvDtype;

    SamplingParams sampling() {
        return new SamplingParams(temperature, topK, topP);
    }

    boolean hasStops() {
        return stops != null && !stops.isEmpty();
    }

    /** A fresh matcher of the --stop strings for one generation. */
    StopStrings newStopStrings() {
        try {
            return new StopStrings(stops);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--stop: " + e.getMessage(), e);
        }
    }
}
