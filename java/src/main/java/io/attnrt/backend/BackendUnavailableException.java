package io.attnrt.backend;

/** The requested backend cannot run here; the message says why (and what to do about it). */
public class BackendUnavailableException extends RuntimeException {
    public BackendUnavailableException(String message) {
        super(message);
    }
}
