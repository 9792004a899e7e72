package dev.bridge.master;

import dev.bridge.ExitCode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The reload command's own flags: a bad value is bad usage, not a Java exception. */
class ReloadCommandTest {

    @Test
    void aTimeoutThatIsNotANumberIsBadUsage() {
        assertEquals(ExitCode.USAGE, ReloadCommand.run(List.of("--pidfile", "/nonexistent/bridge.pid", "--timeout", "soon")));
        assertEquals(ExitCode.USAGE, ReloadCommand.run(List.of("--pidfile", "/nonexistent/bridge.pid", "--timeout", "0")));
    }

    @Test
    void anUnreadablePidfileIsBadUsage() {
        assertEquals(ExitCode.USAGE, ReloadCommand.run(List.of("--pidfile", "/nonexistent/bridge.pid", "--timeout", "5")));
    }
}
