package io.attnrt.cli;

import io.attnrt.text.Tokenizer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "detokenize", mixinStandardHelpOptions = true,
        description = "Print the text of token ids under a model's tokenizer (tokenizer.json or a GGUF file's; no weights needed).")
final class DetokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|FILE", required = true, description = "directory holding tokenizer.json, or a GGUF file")
    Path model;

    @Option(names = "--ids", paramLabel = "IDS", split = ",", required = true, description = "comma-separated token ids")
    int[] ids;

    @Option(names = "--skip-special", description = "leave out special tokens (BOS, EOS, chat markers)")
    boolean skipSpecial;

    @Override
    public Integer call() {
        try (Tokenizer t = ModelSource.tokenizerOnly(model)) {
            spec.commandLine().getOut().println(t.decode(ids, skipSpecial));
        }
        return 0;
    }
}
