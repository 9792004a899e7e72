package dev.bridge.logging;

import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The log line format every process writes: {@code yyyy-MM-dd HH:mm:ss.SSS LEVEL tag - message}. */
class LineLoggerTest {

    @Test
    void timestampsAreLocalTimeToTheMillisecond() {
        DateTimeFormatter expected = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS").withZone(ZoneId.systemDefault());
        for (long millis : new long[]{0L, 1_796_316_570_005L, 1_796_316_570_050L, 1_796_316_570_999L, 1_700_000_000_123L}) {
            StringBuilder out = new StringBuilder();
            LineLogger.timestamp(out, millis);
            assertEquals(expected.format(Instant.ofEpochMilli(millis)), out.toString(), "at " + millis);
        }
    }

    @Test
    void oneLinePerEventThenTheStackTraceAndNettyOnlyFromWarn() {
        PrintStream saved = System.err;
        ByteArrayOutputStream buffer = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buffer, true, StandardCharsets.UTF_8));
        try {
            assertTrue(LoggerFactory.getILoggerFactory() instanceof LineLoggerProvider, "our binding is the one found");
            Logger log = LoggerFactory.getLogger("worker-1[42]");
            log.info("served {} request(s)", 7);
            log.error("failed", new IllegalStateException("boom"));
            Logger netty = LoggerFactory.getLogger("io.netty.util.Something");
            netty.info("set-up chatter");
            netty.warn("LEAK: a buffer");
        } finally {
            System.setErr(saved);
        }
        String[] lines = buffer.toString(StandardCharsets.UTF_8).split("\n");
        String stamp = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} ";
        assertTrue(lines[0].matches(stamp + "INFO worker-1\\[42\\] - served 7 request\\(s\\)"), lines[0]);
        assertTrue(lines[1].matches(stamp + "ERROR worker-1\\[42\\] - failed"), lines[1]);
        assertEquals("java.lang.IllegalStateException: boom", lines[2]);
        assertTrue(lines[3].startsWith("\tat dev.bridge.logging.LineLoggerTest."), lines[3]);
        String last = lines[lines.length - 1];
        assertTrue(last.matches(stamp + "WARN io\\.netty\\.util\\.Something - LEAK: a buffer"), last);
        assertTrue(String.join("\n", lines).indexOf("set-up chatter") < 0, "Netty's INFO is not logged");
    }
}
