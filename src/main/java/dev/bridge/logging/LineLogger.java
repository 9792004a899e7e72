package dev.bridge.logging;

import org.slf4j.Marker;
import org.slf4j.event.Level;
import org.slf4j.helpers.LegacyAbstractLogger;
import org.slf4j.helpers.MessageFormatter;

import java.io.PrintStream;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.zone.ZoneRules;

/**
 * One line per event on stderr: {@code 2026-12-03 16:48:49.003 INFO worker-1[123] - message}, the format the
 * Python side ({@code bridge_wsgi._LogStream}) and the C loop ({@code log_line}) write too, followed by the
 * stack trace of a throwable. It replaced slf4j-simple, whose SimpleDateFormat alone took 50-60 ms of every
 * process's start (master and worker, both on the way to the first request). Any thread: each line is one
 * write of one string.
 */
final class LineLogger extends LegacyAbstractLogger {

    private static final ZoneRules ZONE = ZoneId.systemDefault().getRules();

    private final Level threshold;

    LineLogger(String name, Level threshold) {
        this.name = name;
        this.threshold = threshold;
    }

    @Override
    public boolean isTraceEnabled() {
        return enabled(Level.TRACE);
    }

    @Override
    public boolean isDebugEnabled() {
        return enabled(Level.DEBUG);
    }

    @Override
    public boolean isInfoEnabled() {
        return enabled(Level.INFO);
    }

    @Override
    public boolean isWarnEnabled() {
        return enabled(Level.WARN);
    }

    @Override
    public boolean isErrorEnabled() {
        return enabled(Level.ERROR);
    }

    private boolean enabled(Level level) {
        return level.toInt() >= threshold.toInt();
    }

    @Override
    protected String getFullyQualifiedCallerName() {
        return null;
    }

    @Override
    protected void handleNormalizedLoggingCall(Level level, Marker marker, String pattern, Object[] args, Throwable t) {
        StringBuilder line = new StringBuilder(96);
        timestamp(line, System.currentTimeMillis());
        line.append(' ').append(level.name()).append(' ').append(name).append(" - ")
                .append(MessageFormatter.basicArrayFormat(pattern, args)).append('\n');
        PrintStream err = System.err;
        if (t == null) {
            err.print(line);
        } else {
            synchronized (err) {
                err.print(line);
                t.printStackTrace(err);
            }
        }
    }

    /** Appends {@code yyyy-MM-dd HH:mm:ss.SSS}, local time. */
    static void timestamp(StringBuilder out, long epochMillis) {
        long seconds = Math.floorDiv(epochMillis, 1000);
        int millis = (int) Math.floorMod(epochMillis, 1000);
        LocalDateTime t = LocalDateTime.ofEpochSecond(seconds, 0,
                ZONE.getOffset(java.time.Instant.ofEpochSecond(seconds)));
        out.append(t.getYear()).append('-');
        two(out, t.getMonthValue()).append('-');
        two(out, t.getDayOfMonth()).append(' ');
        two(out, t.getHour()).append(':');
        two(out, t.getMinute()).append(':');
        two(out, t.getSecond()).append('.');
        if (millis < 100) {
            out.append('0');
        }
        two(out, millis);
    }

    private static StringBuilder two(StringBuilder out, int n) {
        return (n < 10 ? out.append('0') : out).append(n);
    }
}
