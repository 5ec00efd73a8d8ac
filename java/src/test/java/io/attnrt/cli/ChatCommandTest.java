package io.attnrt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.attnrt.cli.AttnrtCliTest.Outcome;
import java.io.BufferedReader;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code attnrt chat} end to end on tiny-llama with a byte-level tokenizer and a compact chat template: the
 * answers of a session that reuses its KV cache equal those of {@code run}, which prefills the same rendered
 * conversation from nothing.
 */
class ChatCommandTest {
    static final String TEMPLATE = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
            + "{% if add_generation_prompt %}<assistant>{% endif %}";
    private static final String NL = System.lineSeparator();
    private static final Pattern STATS = Pattern.compile(
            "\\[prefill (\\d+) new tokens \\((\\d+) cached\\) [\\d.]+ ms · (\\d+) tokens [\\d.]+ tok/s]");

    record Stats(int prefilled, int cached, int tokens) {
    }

    /** tiny-llama with the byte-level tokenizer (a prompt's ids are its UTF-8 bytes) and {@link #TEMPLATE}. */
    static Path chatModel(Path dir) throws Exception {
        Files.createDirectories(dir);
        AttnrtCliTest.copyTinyLlama(dir);
        Files.copy(Path.of("test-data", "tokenizers", "bytes-256", "tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.writeString(dir.resolve("tokenizer_config.json"),
                new ObjectMapper().writeValueAsString(Map.of("chat_template", TEMPLATE)));
        return dir;
    }

    /** Runs {@code attnrt chat ARGS} with {@code script} as the user's input. */
    static Outcome chat(String script, String... args) {
        CommandLine cl = AttnrtCli.commandLine();
        ChatCommand command = cl.getSubcommands().get("chat").getCommand();
        command.input = new BufferedReader(new StringReader(script));
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        String[] all = new String[args.length + 1];
        all[0] = "chat";
        System.arraycopy(args, 0, all, 1, args.length);
        int exit = cl.execute(all);
        return new Outcome(exit, out.toString(), err.toString());
    }

    static List<Stats> stats(Outcome o) {
        List<Stats> all = new ArrayList<>();
        Matcher m = STATS.matcher(o.err());
        while (m.find()) {
            all.add(new Stats(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))));
        }
        return all;
    }

    static String runText(String... args) {
        return AttnrtCliTest.runGenerated(args).text();
    }

    static int bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    @Test
    void aSessionReusesItsCacheAndAnswersAsAFreshPrefillOfTheWholeConversationWould(@TempDir Path tmp)
            throws Exception {
        String dir = chatModel(tmp).toString();
        Outcome o = chat("first question\n\n   \nsecond question\n/reset\nthird\n", "--model", dir, "-n", "12",
                "--backend", "cpu");
        assertEquals(0, o.exit(), o.err());

        String a1 = runText("run", "--model", dir, "--chat", "--prompt", "first question", "-n", "12", "--backend", "cpu");
        String secondPrompt = "<user>first question<assistant>" + a1 + "<user>second question<assistant>";
        String a2 = runText("run", "--model", dir, "--prompt", secondPrompt, "-n", "12", "--backend", "cpu");
        String a3 = runText("run", "--model", dir, "--chat", "--prompt", "third", "-n", "12", "--backend", "cpu");
        assertTrue(!a1.isEmpty() && !a2.isEmpty() && !a3.isEmpty(), a1 + " / " + a2 + " / " + a3);
        // One "> " per line read: the two blank lines and /reset ask again without answering.
        assertEquals("> " + a1 + NL + "> > > " + a2 + NL + "> > " + a3 + NL + "> " + NL, o.out());

        List<Stats> s = stats(o);
        assertEquals(3, s.size(), o.err());
        assertEquals(new Stats(bytes("<user>first question<assistant>"), 0, 12), s.get(0));
        // The second turn runs only what follows the cached first prompt (and the part of the first answer
        // that re-tokenizes to the same ids).
        Stats second = s.get(1);
        assertEquals(bytes(secondPrompt), second.prefilled() + second.cached());
        assertTrue(second.cached() >= bytes("<user>first question<assistant>"), o.err());
        assertEquals(12, second.tokens());
        assertEquals(new Stats(bytes("<user>third<assistant>"), 0, 12), s.get(2), "after /reset nothing is cached");
        assertTrue(o.err().contains("[conversation cleared]"), o.err());
    }

    @Test
    void exitAndEndOfInputEndTheSession(@TempDir Path tmp) throws Exception {
        String dir = chatModel(tmp).toString();
        Outcome exit = chat("first question\n/exit\nsecond question\n", "--model", dir, "-n", "4", "--backend", "cpu");
        assertEquals(0, exit.exit(), exit.err());
        assertEquals(1, stats(exit).size(), exit.err());
        String a1 = runText("run", "--model", dir, "--chat", "--prompt", "first question", "-n", "4", "--backend", "cpu");
        assertEquals("> " + a1 + NL + "> ", exit.out());

        Outcome eof = chat("", "--model", dir, "--backend", "cpu");
        assertEquals(0, eof.exit(), eof.err());
        assertEquals("> " + NL, eof.out());
        assertEquals(0, stats(eof).size());
    }

    @Test
    void stopEndsTheAnswerBeforeTheStopString(@TempDir Path tmp) throws Exception {
        String dir = chatModel(tmp).toString();
        Outcome full = chat("Hello\n", "--model", dir, "-n", "24", "--backend", "cpu");
        String answer = full.out().substring(2, full.out().indexOf(NL));
        assertTrue(answer.contains("25Z"), "the greedy answer no longer contains the stop string: " + answer);

        Outcome stopped = chat("Hello\nnext\n", "--model", dir, "-n", "24", "--backend", "cpu", "--stop", "never seen",
                "--stop", "25Z");
        assertEquals(0, stopped.exit(), stopped.err());
        String cut = answer.substring(0, answer.indexOf("25Z"));
        assertTrue(stopped.out().startsWith("> " + cut + NL + "> "), stopped.out());
        List<Stats> s = stats(stopped);
        // the token that completed the match is the last one drawn: 'Z', after '2' and '5'
        AttnrtCliTest.Generated ids = AttnrtCliTest.runGenerated("run", "--model", dir, "--chat", "--prompt", "Hello", "-n", "24", "--backend", "cpu");
        assertEquals(answer, ids.text());
        int at = AttnrtCliTest.indexOf(ids.ids(), new int[] {'2', '5', 'Z'});
        assertTrue(at > 0, java.util.Arrays.toString(ids.ids()));
        assertEquals(at + 3, s.get(0).tokens(), stopped.err());
        // the history holds the answer as shown, so the next turn renders it without the stop string
        assertEquals(bytes("<user>Hello<assistant>" + cut + "<user>next<assistant>"),
                s.get(1).prefilled() + s.get(1).cached());
    }

    @Test
    void aConversationThatOutgrowsTheContextIsToldToReset(@TempDir Path tmp) throws Exception {
        String dir = chatModel(tmp).toString();
        Outcome o = chat("first question\nsecond question\n/reset\nthird\n", "--model", dir, "--context", "64",
                "-n", "40", "--backend", "cpu");
        assertEquals(0, o.exit(), o.err());
        List<Stats> s = stats(o);
        assertEquals(2, s.size(), o.err());
        // 31 prompt tokens leave room for 33 of the 40 tokens asked
        assertEquals(new Stats(31, 0, 33), s.get(0));
        assertTrue(o.err().contains("[the context of 64 tokens is full: /reset to start a new conversation]"), o.err());
        assertTrue(o.err().contains("no longer fits the context of 64 tokens: /reset to start a new one]"), o.err());
        assertEquals(new Stats(bytes("<user>third<assistant>"), 0, 40), s.get(1));

        Outcome tooBig = chat("", "--model", dir, "--context", "257", "--backend", "cpu");
        assertEquals(2, tooBig.exit());
        assertTrue(tooBig.err().contains("--context must be 1 to the model's max_position_embeddings of 256"),
                tooBig.err());
    }

    @Test
    void aModelWithoutTokenizerOrTemplateIsAClearError(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("m");
        Files.createDirectories(dir);
        AttnrtCliTest.copyTinyLlama(dir);
        Outcome noTokenizer = chat("hi\n", "--model", dir.toString(), "--backend", "cpu");
        assertEquals(2, noTokenizer.exit());
        assertTrue(noTokenizer.err().contains("chat needs the model directory's tokenizer.json and a chat_template")
                && noTokenizer.err().contains("lacks tokenizer.json"), noTokenizer.err());

        Files.copy(Path.of("test-data", "tokenizers", "bytes-256", "tokenizer.json"), dir.resolve("tokenizer.json"));
        Outcome noTemplate = chat("hi\n", "--model", dir.toString(), "--backend", "cpu");
        assertEquals(2, noTemplate.exit());
        assertTrue(noTemplate.err().contains("lacks the chat_template"), noTemplate.err());

        Outcome builtin = chat("hi\n", "--backend", "cpu");
        assertEquals(2, builtin.exit());
        assertTrue(builtin.err().contains("the built-in model has neither"), builtin.err());

        Outcome emptyStop = chat("hi\n", "--model", chatModel(tmp.resolve("c")).toString(), "--stop", "");
        assertEquals(2, emptyStop.exit());
        assertTrue(emptyStop.err().contains("--stop: stop string 0 is empty"), emptyStop.err());
    }
}
