package io.attnrt.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class StopStringsTest {
    /** What a stream emits for these pieces: every add's text, then finish's. */
    private static String emitted(StopStrings s, String... pieces) {
        StringBuilder out = new StringBuilder();
        for (String p : pieces) {
            out.append(s.add(p));
        }
        return out.append(s.finish()).toString();
    }

    /** The same text cut into pieces of one char, so every hold-back path runs. */
    private static String[] chars(String text) {
        return text.split("");
    }

    @Test
    void noStopsPassEverythingThroughAtOnce() {
        for (List<String> none : Arrays.asList(null, List.<String>of())) {
            StopStrings s = new StopStrings(none);
            assertEquals("Hel", s.add("Hel"));
            assertEquals("lo", s.add("lo"));
            assertEquals("", s.finish());
            assertFalse(s.stopped());
        }
    }

    @Test
    void aStopSpanningPiecesIsCutWithEverythingAfterIt() {
        StopStrings s = new StopStrings(List.of("END"));
        assertEquals("Hello ", s.add("Hello E"));
        assertFalse(s.stopped());
        assertEquals("", s.add("N"));
        assertEquals("", s.add("D and more"));
        assertTrue(s.stopped());
        assertEquals("", s.add("later text"));
        assertEquals("", s.finish());
    }

    @Test
    void textThatOnlyLookedLikeTheStartOfAStopIsReleasedOnceItCannotBeOne() {
        StopStrings s = new StopStrings(List.of("</s>"));
        assertEquals("a", s.add("a</"));
        assertEquals("</x", s.add("x"));
        assertEquals("b", s.add("b<"));
        assertEquals("<", s.finish());
        assertFalse(s.stopped());
    }

    @Test
    void heldBackTextIsReleasedByFinish() {
        StopStrings s = new StopStrings(List.of("STOP"));
        assertEquals("done ", s.add("done ST"));
        assertEquals("", s.add("O"));
        assertEquals("STO", s.finish());
        assertFalse(s.stopped());
    }

    @Test
    void overlappingCandidatesStopAtTheFirstThatCompletes() {
        // "ab" completes at 'b'; "bc" would only complete one character later.
        assertEquals("", emitted(new StopStrings(List.of("ab", "bc")), "abc"));
        assertEquals("", emitted(new StopStrings(List.of("bc", "ab")), chars("abc")));
        assertEquals("x", emitted(new StopStrings(List.of("ab", "bc")), "x", "bc", "ab"));
        // A longer stop that is still open does not hide a shorter one completing inside it.
        assertEquals("a", emitted(new StopStrings(List.of("abcd", "bc")), "abcd"));
    }

    @Test
    void theEarliestMatchWinsAcrossSeveralStops() {
        List<String> stops = List.of("world", "lo", "Hello world!");
        assertEquals("Hel", emitted(new StopStrings(stops), "Hello world!"));
        assertEquals("Hel", emitted(new StopStrings(stops), chars("Hello world!")));
        // Two stops completing at the same character: the one starting first.
        assertEquals("x", emitted(new StopStrings(List.of("cd", "bcd")), "xbcdy"));
    }

    @Test
    void everyWayOfCuttingTheTextIntoPiecesGivesTheSameResult() {
        String text = "one two three two one";
        List<String> stops = List.of("thre", "two one", "e t");
        String whole = emitted(new StopStrings(stops), text);
        assertEquals("on", whole);
        for (int cut = 1; cut < text.length(); cut++) {
            for (int second = cut; second < text.length(); second++) {
                String got = emitted(new StopStrings(stops), text.substring(0, cut), text.substring(cut, second),
                        text.substring(second));
                assertEquals(whole, got, "cuts at " + cut + ", " + second);
            }
        }
    }

    @Test
    void emojiAndOtherMultiCharTextIsNeverSplitOrLost() {
        String wave = "\uD83D\uDC4B"; // U+1F44B, two UTF-16 chars
        StopStrings s = new StopStrings(List.of(wave + "!"));
        assertEquals("h\u00e9llo ", s.add("h\u00e9llo " + wave));
        assertEquals("", s.add("!"));
        assertTrue(s.stopped());

        // A stop after an emoji that only begins like it: the emoji comes out whole.
        StopStrings t = new StopStrings(List.of(wave + "?"));
        assertEquals("a", t.add("a" + wave));
        assertEquals(wave + "b", t.add("b"));
        // A piece ending in half a surrogate pair keeps that half until the other arrives.
        StopStrings u = new StopStrings(List.of("zz"));
        assertEquals("x", u.add("x\uD83D"));
        assertEquals("\uD83D\uDC4By", u.add("\uDC4By"));
        assertEquals("日本", emitted(new StopStrings(List.of("語。")), "日本", "語", "。です"));
    }

    @Test
    void aStopAtTheVeryStartEmitsNothing() {
        StopStrings s = new StopStrings(List.of("\n"));
        assertEquals("", s.add("\nrest"));
        assertTrue(s.stopped());
    }

    @Test
    void emptyOrNullStopsAreRefusedNamingTheirIndex() {
        var e = assertThrows(IllegalArgumentException.class, () -> new StopStrings(List.of("ok", "")));
        assertTrue(e.getMessage().contains("stop string 1") && e.getMessage().contains("empty"), e.getMessage());
        List<String> withNull = new ArrayList<>(Arrays.asList("a", "b", null));
        var n = assertThrows(IllegalArgumentException.class, () -> new StopStrings(withNull));
        assertTrue(n.getMessage().contains("stop string 2") && n.getMessage().contains("null"), n.getMessage());
    }
}
