package dev.bridge.uwsgi;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;

import java.util.ArrayList;
import java.util.List;

/**
 * An unpooled allocator that remembers every buffer it handed out, so a test can check that all of them
 * were released (refCnt 0) once the connection is gone: a deterministic leak check, where Netty's
 * ResourceLeakDetector only reports after a garbage collection.
 */
final class TrackingAllocator extends AbstractByteBufAllocator {

    private final UnpooledByteBufAllocator delegate = new UnpooledByteBufAllocator(true);
    private final List<ByteBuf> allocated = new ArrayList<>();

    TrackingAllocator() {
        super(false);
    }

    @Override
    protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
        return track(delegate.heapBuffer(initialCapacity, maxCapacity));
    }

    @Override
    protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
        return track(delegate.directBuffer(initialCapacity, maxCapacity));
    }

    private ByteBuf track(ByteBuf b) {
        synchronized (allocated) {
            allocated.add(b);
        }
        return b;
    }

    @Override
    public boolean isDirectBufferPooled() {
        return false;
    }

    int count() {
        synchronized (allocated) {
            return allocated.size();
        }
    }

    /** Buffers still referenced, described for an assertion message; empty when all were released. */
    List<String> unreleased() {
        synchronized (allocated) {
            return allocated.stream().filter(b -> b.refCnt() > 0)
                    .map(b -> b.getClass().getSimpleName() + "(refCnt " + b.refCnt() + ", capacity " + b.capacity() + ")")
                    .toList();
        }
    }
}
