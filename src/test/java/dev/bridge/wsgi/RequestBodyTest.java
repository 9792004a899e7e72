package dev.bridge.wsgi;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.AdaptiveByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RequestBodyTest {

    /** Hands out unpooled direct buffers and remembers them, so tests can check they were freed. */
    static final class TrackingAllocator extends AbstractByteBufAllocator {
        final List<ByteBuf> direct = new ArrayList<>();

        TrackingAllocator() {
            super(true);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            throw new AssertionError("the body must be in direct memory");
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = UnpooledByteBufAllocator.DEFAULT.directBuffer(initialCapacity, maxCapacity);
            direct.add(b);
            return b;
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }

        boolean allReleased() {
            return direct.stream().allMatch(b -> b.refCnt() == 0);
        }
    }

    private final List<RequestBody> bodies = new ArrayList<>();
    private final List<ByteBuf> inputs = new ArrayList<>();

    @AfterEach
    void release() {
        bodies.forEach(RequestBody::release);
        inputs.forEach(b -> {
            if (b.refCnt() > 0) {
                b.release();
            }
        });
    }

    private RequestBody body(ByteBufAllocator alloc, long threshold, long expected) {
        RequestBody b = new RequestBody(alloc, threshold, expected);
        bodies.add(b);
        return b;
    }

    private ByteBuf bytes(String s) {
        ByteBuf b = Unpooled.copiedBuffer(s, StandardCharsets.ISO_8859_1);
        inputs.add(b);
        return b;
    }

    private static String read(ByteBuffer bb) {
        ByteBuffer d = bb.duplicate();
        byte[] out = new byte[d.remaining()];
        d.get(out);
        return new String(out, StandardCharsets.ISO_8859_1);
    }

    static Stream<Arguments> allocators() {
        return Stream.of(
                Arguments.of("unpooled", new UnpooledByteBufAllocator(true)),
                Arguments.of("pooled", new PooledByteBufAllocator(true)),
                Arguments.of("adaptive", new AdaptiveByteBufAllocator(true, false)),
                Arguments.of("default", ByteBufAllocator.DEFAULT));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("allocators")
    void shouldHandMemoryBodyAsDirectBufferWhoseCapacityIsTheBodyLength(String name, ByteBufAllocator alloc) throws IOException {
        // Python reads it through memoryview, which spans the capacity, not the limit.
        RequestBody known = body(alloc, 1024, 5);
        known.append(bytes("hello"));
        RequestBody chunked = body(alloc, 1024, -1);
        chunked.append(bytes("abc"));
        chunked.append(bytes("de"));
        for (RequestBody b : List.of(known, chunked)) {
            ByteBuffer bb = assertInstanceOf(ByteBuffer.class, b.forPython());
            assertTrue(bb.isDirect());
            assertEquals(5, b.size());
            assertEquals(5, bb.capacity(), name + ": capacity");
            assertEquals(0, bb.position());
            assertEquals(5, bb.limit());
        }
        assertEquals("hello", read((ByteBuffer) known.forPython()));
        assertEquals("abcde", read((ByteBuffer) chunked.forPython()));
    }

    @Test
    void shouldHandBodyShorterThanExpectedWithExactCapacity() throws IOException {
        RequestBody b = body(new UnpooledByteBufAllocator(true), 1024, 100);
        b.append(bytes("short"));
        assertEquals(5, ((ByteBuffer) b.forPython()).capacity());
    }

    @Test
    void shouldNotConsumeTheCallersBuffer() throws IOException {
        RequestBody b = body(new UnpooledByteBufAllocator(true), 1024, -1);
        ByteBuf in = bytes("xyz");
        in.readByte();
        b.append(in);
        assertEquals(1, in.readerIndex());
        assertEquals("yz", read((ByteBuffer) b.forPython()));
    }

    @Test
    void shouldHandEmptyBodyAsNull() throws IOException {
        assertNull(body(new UnpooledByteBufAllocator(true), 1024, 0).forPython());
        assertNull(body(new UnpooledByteBufAllocator(true), 1024, -1).forPython());
        RequestBody b = body(new UnpooledByteBufAllocator(true), 1024, 10);
        b.append(bytes(""));
        assertNull(b.forPython());
        assertEquals(0, b.size());
    }

    @Test
    void shouldKeepBodyOfExactlyTheThresholdInMemory() throws IOException {
        RequestBody b = body(new UnpooledByteBufAllocator(true), 8, -1);
        b.append(bytes("0123"));
        b.append(bytes("4567"));
        assertInstanceOf(ByteBuffer.class, b.forPython());
        RequestBody known = body(new UnpooledByteBufAllocator(true), 8, 8);
        known.append(bytes("01234567"));
        assertInstanceOf(ByteBuffer.class, known.forPython());
    }

    @Test
    void shouldSpillToTempFileAboveThreshold() throws IOException {
        TrackingAllocator alloc = new TrackingAllocator();
        RequestBody b = body(alloc, 8, 9);
        assertTrue(alloc.direct.isEmpty(), "no memory reserved for a body that will spill");
        b.append(bytes("012345678"));
        String path = assertInstanceOf(String.class, b.forPython());
        assertEquals("012345678", Files.readString(Path.of(path), StandardCharsets.ISO_8859_1));
        assertEquals(9, b.size());
        b.release();
        assertFalse(Files.exists(Path.of(path)), "release() deletes the temp file");
    }

    @Test
    void shouldMoveMemoryToFileWhenBodyCrossesThreshold() throws IOException {
        TrackingAllocator alloc = new TrackingAllocator();
        RequestBody b = body(alloc, 8, -1);
        b.append(bytes("01234"));
        assertEquals(1, alloc.direct.size());
        b.append(bytes("56789"));
        b.append(bytes("ab"));
        assertTrue(alloc.allReleased(), "the memory is freed once the body is in the file");
        String path = assertInstanceOf(String.class, b.forPython());
        assertEquals("0123456789ab", Files.readString(Path.of(path)));
        assertEquals(12, b.size());
        b.release();
        assertFalse(Files.exists(Path.of(path)));
    }

    @Test
    void shouldSpillEverythingWithThresholdZero() throws IOException {
        RequestBody b = body(new TrackingAllocator(), 0, 1);
        b.append(bytes("x"));
        String path = assertInstanceOf(String.class, b.forPython());
        assertEquals("x", Files.readString(Path.of(path)));
    }

    @Test
    void shouldDeleteTempFileOnReleaseWithoutForPython() throws IOException {
        RequestBody b = body(new TrackingAllocator(), 2, -1);
        List<Path> before = tempBodies();
        b.append(bytes("abc"));
        List<Path> created = tempBodies();
        created.removeAll(before);
        assertEquals(1, created.size());
        b.release();
        assertFalse(Files.exists(created.get(0)));
    }

    @Test
    void shouldFreeMemoryOnReleaseAndTolerateSecondRelease() throws IOException {
        TrackingAllocator alloc = new TrackingAllocator();
        RequestBody b = body(alloc, 1024, 4);
        b.append(bytes("abcd"));
        assertFalse(alloc.allReleased());
        b.release();
        assertTrue(alloc.allReleased());
        b.release();
        assertTrue(alloc.allReleased());
    }

    private static List<Path> tempBodies() throws IOException {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return new ArrayList<>(s.filter(f -> f.getFileName().toString().startsWith("bridge-body-")).toList());
        }
    }
}
