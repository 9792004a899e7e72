package dev.bridge.uwsgi;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Decodes the uwsgi binary protocol as nginx's {@code uwsgi_pass} speaks it, one request per connection:
 * a 4-byte header (modifier1, little-endian u16 datasize, modifier2), a vars block of datasize bytes made
 * of little-endian u16-length keys and values, then CONTENT_LENGTH bytes of body, streamed on in pieces
 * of at most {@value #MAX_BODY_PIECE} bytes.
 *
 * <p>A repeated {@code HTTP_*} var is a request header the client repeated (nginx passes each line on):
 * its values are joined with "," ("; " for cookies). Any other repeated var is bad input.
 *
 * <p>A state machine in the manner of Netty's binary memcache decoder: bad input does not throw through
 * the pipeline; it emits one {@link UwsgiPacket.Bad} with the reason and discards everything after.
 * Limits: vars block at most {@code maxVars} bytes ({@code --buffer-size}), at most {@value #MAX_VARS}
 * vars. Event loop only.
 */
public final class UwsgiDecoder extends ByteToMessageDecoder {

    /** Most vars one request may carry (gunicorn's MAX_UWSGI_VARS). */
    static final int MAX_VARS = 1000;
    /** Largest piece of body emitted at once, in bytes. */
    static final int MAX_BODY_PIECE = 64 * 1024;
    /** modifier1 values understood. */
    static final int WSGI = 0;
    static final int WSGI_STRIP_SCRIPT_NAME = 30;
    static final int PING = 100;

    enum State { READ_HEADER, READ_VARS, READ_BODY, DONE, BAD }

    private final int maxVars;
    private State state = State.READ_HEADER;
    private int modifier1;
    private int datasize;
    private long bodyLeft;

    /** @param maxVars largest vars block accepted, in bytes (--buffer-size) */
    public UwsgiDecoder(int maxVars) {
        this.maxVars = maxVars;
    }

    State state() {
        return state;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case READ_HEADER -> {
                if (in.readableBytes() < 4) {
                    return;
                }
                modifier1 = in.readUnsignedByte();
                datasize = in.readUnsignedShortLE();
                in.skipBytes(1); // modifier2
                if (modifier1 == PING) {
                    out.add(new UwsgiPacket.Ping());
                    state = State.DONE;
                } else if (modifier1 != WSGI && modifier1 != WSGI_STRIP_SCRIPT_NAME) {
                    bad(out, in, "unsupported modifier1 " + modifier1);
                } else if (datasize > maxVars) {
                    bad(out, in, "vars block of " + datasize + " bytes is over --buffer-size " + maxVars);
                } else {
                    state = State.READ_VARS;
                    decode(ctx, in, out);
                }
            }
            case READ_VARS -> {
                if (in.readableBytes() < datasize) {
                    return;
                }
                ByteBuf block = in.readSlice(datasize);
                String error = readVars(block, out);
                if (error != null) {
                    bad(out, in, error);
                    return;
                }
                if (bodyLeft == 0) {
                    out.add(UwsgiPacket.END);
                    state = State.DONE;
                } else {
                    state = State.READ_BODY;
                    decode(ctx, in, out);
                }
            }
            case READ_BODY -> {
                while (bodyLeft > 0 && in.isReadable()) {
                    int n = (int) Math.min(Math.min(bodyLeft, in.readableBytes()), MAX_BODY_PIECE);
                    out.add(in.readRetainedSlice(n));
                    bodyLeft -= n;
                }
                if (bodyLeft == 0) {
                    out.add(UwsgiPacket.END);
                    state = State.DONE;
                }
            }
            case DONE, BAD -> in.skipBytes(in.readableBytes()); // one request per connection
        }
    }

    /** Emits the request, or returns why the block is malformed. */
    private String readVars(ByteBuf block, List<Object> out) {
        Map<String, String> vars = new LinkedHashMap<>();
        while (block.isReadable()) {
            if (vars.size() >= MAX_VARS) {
                return "more than " + MAX_VARS + " vars";
            }
            String key = readString(block, true);
            if (key == null || key.isEmpty()) {
                return key == null ? "a var runs past the vars block or has a bad key" : "an empty var name";
            }
            String value = readString(block, false);
            if (value == null) {
                return "the value of " + key + " runs past the vars block";
            }
            if (value.indexOf('\0') >= 0) {
                return "a NUL byte in the value of " + key;
            }
            String earlier = vars.putIfAbsent(key, value);
            if (earlier != null) {
                if (!key.startsWith("HTTP_")) {
                    return "var " + key + " given twice";
                }
                // nginx passes a repeated request header as a repeated var: join it as HTTP does
                vars.put(key, earlier + (key.equals("HTTP_COOKIE") ? "; " : ",") + value);
            }
        }
        String cl = vars.get("CONTENT_LENGTH");
        bodyLeft = 0;
        if (cl != null && !cl.isEmpty()) {
            if (cl.length() > 18 || !cl.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return "bad CONTENT_LENGTH " + cl;
            }
            bodyLeft = Long.parseLong(cl);
        }
        out.add(new UwsgiPacket.Request(modifier1, vars, bodyLeft));
        return null;
    }

    /** A u16-length string, or null when it runs past the block (or, for keys, is not printable ASCII). */
    private static String readString(ByteBuf block, boolean key) {
        if (block.readableBytes() < 2) {
            return null;
        }
        int n = block.readUnsignedShortLE();
        if (block.readableBytes() < n) {
            return null;
        }
        if (key) {
            for (int i = 0; i < n; i++) {
                byte b = block.getByte(block.readerIndex() + i);
                if (b < 0x21 || b > 0x7e) {
                    return null;
                }
            }
        }
        String s = block.toString(block.readerIndex(), n, StandardCharsets.ISO_8859_1);
        block.skipBytes(n);
        return s;
    }

    private void bad(List<Object> out, ByteBuf in, String reason) {
        state = State.BAD;
        in.skipBytes(in.readableBytes());
        out.add(new UwsgiPacket.Bad(reason));
    }

    @Override
    protected void decodeLast(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        decode(ctx, in, out);
        if (state == State.READ_HEADER && in.isReadable() || state == State.READ_VARS || state == State.READ_BODY) {
            bad(out, in, "the connection closed in the middle of a request (" + state.name().toLowerCase() + ")");
        }
    }
}
