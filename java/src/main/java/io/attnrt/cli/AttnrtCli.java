package io.attnrt.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code attnrt} command: run, chat, serve, tokenize, detokenize, verify, bench. */
@Command(name = "attnrt", mixinStandardHelpOptions = true, versionProvider = AttnrtCli.Version.class,
        description = "Transformer attention and Llama-style decoder blocks on NVIDIA GPUs (JCuda) or the CPU.",
        subcommands = {RunCommand.class, ChatCommand.class, ServeCommand.class, TokenizeCommand.class,
                DetokenizeCommand.class, VerifyCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class AttnrtCli implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured command line (tests call it without exiting the JVM). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new AttnrtCli());
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            // Bad input is the user's to fix: one clear line, no stack trace.
            if (ex instanceof IllegalArgumentException || ex instanceof io.attnrt.backend.BackendUnavailableException
                    || ex instanceof java.io.IOException || ex instanceof java.io.UncheckedIOException) {
                line.getErr().println("attnrt: " + ex.getMessage());
                return 2;
            }
            throw ex;
        });
        return cl;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "choose a command: run, chat, serve, tokenize, detokenize, verify or bench");
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = AttnrtCli.class.getPackage().getImplementationVersion();
            return new String[] {"attnrt " + (v == null ? "dev" : v)};
        }
    }
}
