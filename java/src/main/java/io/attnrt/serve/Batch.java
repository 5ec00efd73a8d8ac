package io.attnrt.serve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** The sequences of one step, their new tokens and slots, in batch order. */
final class Batch {
    final List<Seq> seqs = new ArrayList<>();
    final List<int[]> chunks = new ArrayList<>();
    final List<int[]> slotParts = new ArrayList<>();

    void add(Seq s, int n, int[] slots) {
        seqs.add(s);
        chunks.add(Arrays.copyOfRange(s.tokens, s.computed, s.computed + n));
        slotParts.add(slots);
    }

    int size() {
        return seqs.size();
    }

    int[] ids() {
        int[] ids = new int[seqs.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = seqs.get(i).cacheSeq;
        }
        return ids;
    }

    int[] slots() {
        return slotParts.stream().flatMapToInt(Arrays::stream).toArray();
    }
}
