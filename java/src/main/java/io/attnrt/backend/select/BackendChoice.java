package io.attnrt.backend.select;

import io.attnrt.backend.Backend;

/** A backend together with the reason it was chosen, for the one log line that says what runs. */
public record BackendChoice(Backend backend, String reason) {
}
