package dev.bridge.http;

import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

import java.util.ArrayList;
import java.util.List;

/** A logger that keeps what it is told (level and message) so tests can assert on it, and prints nothing. */
public final class CapturingLogger extends LegacyAbstractLogger {

    public record Entry(Level level, String message, Throwable thrown) {}

    public final List<Entry> entries = new ArrayList<>();

    public CapturingLogger() {
        this.name = "test";
    }

    public List<String> messages(Level level) {
        return entries.stream().filter(e -> e.level == level).map(Entry::message).toList();
    }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String msg, Object[] args, Throwable t) {
        entries.add(new Entry(level, MessageFormatter.basicArrayFormat(msg, args), t));
    }

    @Override
    public boolean isTraceEnabled() {
        return true;
    }

    @Override
    public boolean isDebugEnabled() {
        return true;
    }

    @Override
    public boolean isInfoEnabled() {
        return true;
    }

    @Override
    public boolean isWarnEnabled() {
        return true;
    }

    @Override
    public boolean isErrorEnabled() {
        return true;
    }
}
