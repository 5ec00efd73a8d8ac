package io.attnrt.cli;

import io.attnrt.text.Tokenizer;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "tokenize", mixinStandardHelpOptions = true,
        description = "Print the token ids of a text under a model's tokenizer (tokenizer.json or a GGUF file's; no weights needed).")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--model", paramLabel = "DIR|FILE", required = true, description = "directory holding tokenizer.json, or a GGUF file")
    Path model;

    static final class Input {
        @Option(names = "--text", paramLabel = "TEXT", required = true, description = "the text")
        String text;

        @Option(names = "--file", paramLabel = "FILE", required = true, description = "a UTF-8 text file")
        Path file;
    }

    @ArgGroup(multiplicity = "1")
    Input input;

    @Option(names = "--pieces", description = "one line per token: id, then the piece")
    boolean pieces;

    @Option(names = "--no-special", description = "leave out the special tokens the tokenizer adds (BOS)")
    boolean noSpecial;

    @Override
    public Integer call() throws Exception {
        String text = input.text != null ? input.text : Files.readString(input.file, StandardCharsets.UTF_8);
        PrintWriter out = spec.commandLine().getOut();
        try (Tokenizer t = ModelSource.tokenizerOnly(model)) {
            Tokenizer.Pieces p = t.pieces(text, !noSpecial);
            if (pieces) {
                for (int i = 0; i < p.ids().length; i++) {
                    out.printf("%d\t%s%n", p.ids()[i], p.pieces()[i]);
                }
            } else {
                out.println(Arrays.stream(p.ids()).mapToObj(Integer::toString).collect(Collectors.joining(",")));
            }
        }
        return 0;
    }
}
