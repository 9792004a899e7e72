package dev.bridge.wsgi;

import java.nio.charset.StandardCharsets;

/**
 * A whole response as the shim packs it into one bytes object: {@code "<count> <headlen>\0"}, then
 * {@code headlen} bytes of {@code status\0name\0value...} in latin-1, then the body to the end.
 *
 * @param head       the checked status and headers
 * @param bodyOffset where the body starts in the packed bytes
 */
public record PackedResponse(AppResponseHead head, int bodyOffset) {

    /** @throws IllegalArgumentException for a malformed pack or a bad status or header */
    public static PackedResponse parse(byte[] p) {
        int i = 0;
        int count = 0;
        while (i < p.length && p[i] != ' ') {
            count = count * 10 + digit(p[i++]);
        }
        i++;
        int headLength = 0;
        while (i < p.length && p[i] != 0) {
            headLength = headLength * 10 + digit(p[i++]);
        }
        int headStart = i + 1;
        if (headStart + headLength > p.length) {
            throw new IllegalArgumentException("truncated response from the shim");
        }
        String head = new String(p, headStart, headLength, StandardCharsets.ISO_8859_1);
        int nul = head.indexOf('\0');
        String status = nul < 0 ? head : head.substring(0, nul);
        String headers = nul < 0 ? "" : head.substring(nul + 1);
        return new PackedResponse(AppResponseHead.parse(status, headers, count), headStart + headLength);
    }

    private static int digit(byte b) {
        if (b < '0' || b > '9') {
            throw new IllegalArgumentException("malformed response from the shim");
        }
        return b - '0';
    }
}
