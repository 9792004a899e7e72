package dev.bridge.stats;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class JsonTest {

    private static String quoted(String s) {
        StringBuilder sb = new StringBuilder();
        Json.quote(sb, s);
        return sb.toString();
    }

    @Test
    void quotesBackslashesAndControlCharactersAreEscaped() {
        assertEquals("\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u007f\"", quoted("a\"b\\c\nd\re\tf\u0001g\u007f"));
    }

    @Test
    void nonAsciiComesOutAsEscapesSoTheLineIsAscii() {
        // a request target's raw bytes arrive as ISO-8859-1 characters
        assertEquals("\"/caf\\u00e9\\u00ff\\u20ac\"", quoted("/caf\u00e9\u00ff\u20ac"));
    }

    @Test
    void objectsAndArraysNestWithCommas() {
        StringBuilder sb = new StringBuilder();
        new Json(sb).begin().field("a", 1).array("b").begin().field("c", true).end().begin().end().endArray()
                .object("d").field("e", (String) null).field("f", 1.5).end().end();
        assertEquals("{\"a\":1,\"b\":[{\"c\":true},{}],\"d\":{\"e\":null,\"f\":1.5}}", sb.toString());
    }
}
