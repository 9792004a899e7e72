package dev.bridge.wsgi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A request body being received: in a direct buffer up to the spill threshold, then in a temp file.
 * Handed to Python as a direct ByteBuffer (read with memoryview) or as the temp file's path.
 *
 * <p>Filled on the event loop; read by one Python thread after the request is complete; released by
 * whoever finishes the request. Not thread-safe: the hand-off happens through the dispatch queue.
 */
public final class RequestBody {

    private final ByteBufAllocator alloc;
    private final long spillThreshold;
    private ByteBuf memory;
    private Path file;
    private FileChannel fileChannel;
    private long size;

    public RequestBody(ByteBufAllocator alloc, long spillThreshold, long expected) {
        this.alloc = alloc;
        this.spillThreshold = spillThreshold;
        if (expected > 0 && expected <= spillThreshold) {
            memory = alloc.directBuffer((int) expected);
        }
    }

    public long size() {
        return size;
    }

    /** Appends and consumes nothing: the caller still owns {@code data}. */
    public void append(ByteBuf data) throws IOException {
        int n = data.readableBytes();
        if (n == 0) {
            return;
        }
        if (fileChannel == null && size + n > spillThreshold) {
            spill();
        }
        if (fileChannel != null) {
            ByteBuffer nio = data.nioBuffer();
            while (nio.hasRemaining()) {
                fileChannel.write(nio);
            }
        } else {
            if (memory == null) {
                memory = alloc.directBuffer(Math.max(n, 256));
            }
            memory.writeBytes(data, data.readerIndex(), n);
        }
        size += n;
    }

    private void spill() throws IOException {
        file = Files.createTempFile("bridge-body-", ".tmp");
        fileChannel = FileChannel.open(file, StandardOpenOption.WRITE);
        if (memory != null) {
            ByteBuffer nio = memory.nioBuffer();
            while (nio.hasRemaining()) {
                fileChannel.write(nio);
            }
            memory.release();
            memory = null;
        }
    }

    /** What Python's wsgi.input is built from: null (empty), a direct ByteBuffer, or a file path. */
    public Object forPython() throws IOException {
        if (fileChannel != null) {
            fileChannel.close();
            return file.toString();
        }
        if (memory == null || size == 0) {
            return null;
        }
        return memory.nioBuffer(memory.readerIndex(), memory.readableBytes());
    }

    /** Frees the memory or deletes the temp file. Safe to call more than once. */
    public void release() {
        if (memory != null) {
            memory.release();
            memory = null;
        }
        if (file != null) {
            try {
                if (fileChannel != null) {
                    fileChannel.close();
                }
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // a temp file left behind is not worth failing a request for
            }
            file = null;
            fileChannel = null;
        }
    }
}
