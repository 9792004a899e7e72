package dev.bridge;

/**
 * Process exit codes of the master and of workers. Scripts and the master's supervision rely on them.
 */
public final class ExitCode {
    /** Clean shutdown. */
    public static final int OK = 0;
    /** An unexpected internal error (a bug): the log has the details. */
    public static final int INTERNAL_ERROR = 1;
    /** Bad command line, or the environment cannot run a worker (no Python, no Jep, wrong Jep). */
    public static final int USAGE = 2;
    /** A worker could not start serving for a reason other than the app (e.g. a listener it cannot open). */
    public static final int WORKER_BOOT_ERROR = 3;
    /** The WSGI app could not be loaded: import error, syntax error, missing or non-callable attribute. */
    public static final int APP_LOAD_ERROR = 4;

    private ExitCode() {}
}
