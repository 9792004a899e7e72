package dev.bridge.config;

/** A bad flag or value. Its message is one line meant for the user; the launcher prints it and exits with usage's code. */
public final class ConfigException extends Exception {
    public ConfigException(String message) {
        super(message, null, false, false);
    }
}
