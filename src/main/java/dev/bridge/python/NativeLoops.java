package dev.bridge.python;

import dev.bridge.stats.RequestCounters;
import io.netty.channel.unix.FileDescriptor;

import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The Java side of the C request loops ({@code native/bridge_native.c}): each Python thread runs one, which
 * serves the uwsgi listeners itself, without the event loop. A loop waits on three things: the listeners
 * (only while {@link #setAccepting accepting}), a wake pipe shared by all threads (one byte per request
 * queued for Python by the event loop, e.g. HTTP: whichever thread reads it takes the request), and a
 * control pipe of its own (the accepting state changed). Each loop publishes what it does in a status
 * block of {@value #STATUS_SIZE} bytes that Java reads for heartbeats (harakiri) and counts.
 *
 * <p>{@link #slot} is called by each Python thread as it boots, {@link #acknowledge} by a Python thread that
 * was woken on its control pipe; {@link #wakeOne} from any thread; {@link #setAccepting} from the worker's
 * main thread; the readers ({@link #served}, {@link #oldestBusySince}) from any thread.
 */
public final class NativeLoops {

    /** Bytes of a loop's status block (native/bridge_native.c: STATUS_SIZE). */
    static final int STATUS_SIZE = 512;
    /** Offsets in the status block: epoch ms the current request began (0 idle), requests served, summary. */
    private static final int BUSY_SINCE = 0;
    private static final int SERVED = 8;
    private static final int SUMMARY = 16;
    private static final int SUMMARY_SIZE = 240;
    /** Offset of the loop's {@link RequestCounters} block. */
    private static final int COUNTERS = 256;
    /** What the loop's run() returns. */
    static final int RUN_CONTROL = 0;
    static final int RUN_WORK = 1;
    static final int RUN_IDLE = 2;

    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** One Python thread's control pipe and status block. */
    record Slot(FileDescriptor[] control, ByteBuffer status) {}

    /** The listening descriptors, comma-separated, once the worker has opened them. */
    private final CompletableFuture<String> listeners = new CompletableFuture<>();
    private final FileDescriptor[] wake;
    private final ByteBuffer token = ByteBuffer.allocateDirect(1);
    private final List<Slot> slots = new CopyOnWriteArrayList<>();
    private volatile boolean accepting;
    private volatile CountDownLatch pending = new CountDownLatch(0);

    public NativeLoops() throws IOException {
        this.wake = FileDescriptor.pipe();
    }

    /** The uwsgi listening descriptors the loops serve, once the worker opened them. Main thread. */
    public void listen(List<Integer> fds) {
        listeners.complete(String.join(",", fds.stream().map(String::valueOf).toList()));
    }

    /** The listening descriptors, comma-separated, as the shim's native_loop() takes them; waits for {@link #listen}. */
    String listeners() {
        return listeners.join();
    }

    int wakeFd() {
        return wake[0].intValue();
    }

    /** A new Python thread's control pipe and status block. */
    Slot slot() throws IOException {
        Slot s = new Slot(FileDescriptor.pipe(), ByteBuffer.allocateDirect(STATUS_SIZE).order(ByteOrder.LITTLE_ENDIAN));
        slots.add(s);
        return s;
    }

    /** A request was queued for the Python threads: one of the loops is to take it. Any thread. */
    void wakeOne() {
        try {
            wake[1].write(token, 0, 1);
        } catch (IOException e) {
            throw new IllegalStateException("cannot wake the Python threads: " + e.getMessage(), e);
        }
    }

    /**
     * Starts or stops accepting on the listeners in every loop; {@link #awaitAcknowledged} then tells when
     * every loop has seen it (a loop sees it between two requests, so none of its uwsgi requests is in flight
     * once it has stopped accepting). Main thread.
     */
    public void setAccepting(boolean on) throws IOException {
        accepting = on;
        pending = new CountDownLatch(slots.size());
        for (Slot s : slots) {
            s.control()[1].write(token, 0, 1);
        }
    }

    /** Whether every loop has seen the last {@link #setAccepting}, waiting up to {@code millis}. */
    public boolean awaitAcknowledged(long millis) throws InterruptedException {
        return pending.await(millis, TimeUnit.MILLISECONDS);
    }

    /** Called by a loop's thread after run() returned RUN_CONTROL; returns whether to accept now. */
    boolean acknowledge() {
        CountDownLatch latch = pending; // read before the state: a newer latch implies the newer state
        boolean on = accepting;
        latch.countDown();
        return on;
    }

    /** Requests the loops have served. Any thread. */
    long served() {
        long n = 0;
        for (Slot s : slots) {
            n += (long) LONGS.getVolatile(s.status(), SERVED);
        }
        return n;
    }

    /** Requests one loop served. Any thread. */
    static long served(Slot s) {
        return (long) LONGS.getVolatile(s.status(), SERVED);
    }

    /** When one loop's current request began (epoch ms), or 0 if it is idle. Any thread. */
    static long busySince(Slot s) {
        return (long) LONGS.getVolatile(s.status(), BUSY_SINCE);
    }

    /** Adds the loops' request counters to {@code into} (a {@link RequestCounters} block). Any thread. */
    void addCounters(long[] into) {
        for (Slot s : slots) {
            for (int i = 0; i < RequestCounters.SIZE; i++) {
                into[i] += (long) LONGS.getOpaque(s.status(), COUNTERS + 8 * i);
            }
        }
    }

    /** The start (epoch ms) of the loops' longest-running request, or 0 when every loop is idle. */
    long oldestBusySince() {
        long oldest = 0;
        for (Slot s : slots) {
            long since = (long) LONGS.getVolatile(s.status(), BUSY_SINCE);
            if (since != 0 && (oldest == 0 || since < oldest)) {
                oldest = since;
            }
        }
        return oldest;
    }

    /** The summary of the loop request that began at {@code since}, or null. */
    String busySummary(long since) {
        for (Slot s : slots) {
            if (since != 0 && (long) LONGS.getVolatile(s.status(), BUSY_SINCE) == since) {
                byte[] b = new byte[SUMMARY_SIZE];
                s.status().get(SUMMARY, b);
                int n = 0;
                while (n < b.length && b[n] != 0) {
                    n++;
                }
                return new String(b, 0, n, StandardCharsets.ISO_8859_1);
            }
        }
        return null;
    }
}
