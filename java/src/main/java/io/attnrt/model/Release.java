package io.attnrt.model;

import java.util.function.Consumer;

/** Releasing many resources: every one is attempted, the first failure is rethrown with the rest suppressed. */
final class Release {
    private Release() {
    }

    static <T> void all(Iterable<T> items, Consumer<? super T> release) {
        RuntimeException first = null;
        for (T item : items) {
            try {
                release.accept(item);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
