package dev.bridge;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process's logger. Every line carries the process's tag ({@code worker-1[pid]}, later {@code master[pid]}),
 * so lines of several processes in one log can be told apart; Python output uses the same tag and format.
 */
public final class Log {

    private static volatile Logger logger = LoggerFactory.getLogger("bridge[" + ProcessHandle.current().pid() + "]");
    private static volatile String tag = "bridge[" + ProcessHandle.current().pid() + "]";

    private Log() {}

    /** Names this process in the log, e.g. {@code worker-1}. */
    public static void tag(String role) {
        tag = role + "[" + ProcessHandle.current().pid() + "]";
        logger = LoggerFactory.getLogger(tag);
    }

    public static String tag() {
        return tag;
    }

    public static Logger get() {
        return logger;
    }
}
