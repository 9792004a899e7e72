package dev.bridge.worker;

import dev.bridge.testing.TestConfig;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The warm-up's Java part goes through the real protocol handlers, to a whole response. */
class WarmUpTest {

    @Test
    void shouldAnswerTheHttpWarmUpRequestThroughTheRealPipeline() throws InterruptedException {
        List<String> responses = WarmUp.pipelines(TestConfig.of("--http", "127.0.0.1:0"), 1, 0, () -> false);
        assertEquals(1, responses.size(), "no uwsgi listener: no uwsgi warm-up");
        assertTrue(responses.get(0).startsWith("HTTP/1.1 200 OK\r\n"), responses.get(0));
        assertTrue(responses.get(0).endsWith("\r\n\r\nok"), responses.get(0));
    }

    @Test
    void shouldAlsoWarmUpTheUwsgiPipelineWhenAUwsgiListenerIsConfiguredRoundAfterRound() throws InterruptedException {
        // A standby's many rounds reuse the same request bytes: the last round must still be whole.
        List<String> responses = WarmUp.pipelines(TestConfig.of("--http", "127.0.0.1:0", "--uwsgi-socket", "127.0.0.1:0"),
                WarmUp.STANDBY_ROUNDS, 0, () -> false);
        assertEquals(2, responses.size());
        assertTrue(responses.get(0).endsWith("\r\n\r\nok"), responses.get(0));
        assertTrue(responses.get(1).startsWith("HTTP/1.1 200 OK\r\n"), responses.get(1));
        assertTrue(responses.get(1).endsWith("\r\n\r\nok"), responses.get(1));
    }
}
