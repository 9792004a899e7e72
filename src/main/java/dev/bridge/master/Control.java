package dev.bridge.master;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;

import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * The control protocol between the master and a worker: one text line per message over a unix socket pair
 * (the worker inherits its end). Small on purpose; app output never goes on it.
 *
 * <pre>
 * worker -> master   STANDBY                                a standby JVM booted (no Python yet); waits for BOOT
 *                    READY                                  app loaded, listeners adopted; accepts on SERVE
 *                    HB served busySinceMillis [summary]    every {@link #HEARTBEAT_MILLIS} ms: requests served,
 *                                                           start (epoch ms, 0 = idle) and summary of the oldest
 *                                                           request in Python
 *                    ST http=.. uwsgi=.. exceptions=n cores=..   the answer to STATS: what the worker counted
 *                                           (dev.bridge.stats.WorkerStats)
 *                    NICE levels            (--python-nice auto) the nice levels below the event loop the next
 *                                           workers' Python threads should start at: what this worker found
 * master -> worker   BOOT slot generation nice   (to a standby) become that slot's worker: load Python and the
 *                                                app; with --python-nice auto, start its threads nice levels down
 *                    SERVE     start accepting (a reload's new workers get it together, once all are ready)
 *                    STOP      graceful stop: accept what waits in the queue, finish in-flight requests, exit
 *                    RETIRE    replaced by a newer worker: close the listeners now, finish in-flight requests, exit
 *                    STATS     answer with an ST line now (the master asks only when its stats server is asked)
 *                    REOPEN path   (--logto) open the log file anew as stdout and stderr: logrotate renamed it
 *                                  and sent SIGUSR1 to the master (see {@link LogFile})
 * </pre>
 */
public final class Control {

    public static final String STANDBY = "STANDBY";
    public static final String BOOT = "BOOT";
    public static final String READY = "READY";
    public static final String HEARTBEAT = "HB";
    public static final String NICE = "NICE";
    public static final String SERVE = "SERVE";
    public static final String STOP = "STOP";
    public static final String RETIRE = "RETIRE";
    public static final String STATS = "STATS";
    public static final String REOPEN = "REOPEN";
    /** Not sent on the wire: what the worker's link reports when the master's end closed. */
    public static final String GONE = "GONE";

    /** Longest control line, in bytes (a heartbeat carries a request summary). */
    static final int MAX_LINE = 16 * 1024;

    /** How often a worker reports, in milliseconds. */
    public static final long HEARTBEAT_MILLIS = 1000;

    /** Environment variables through which the master tells a worker who it is and what it inherited. */
    public static final String ENV_WORKER_ID = "BRIDGE_WORKER_ID";
    public static final String ENV_GENERATION = "BRIDGE_GENERATION";
    /** With --python-nice auto: the nice levels below the event loop its Python threads start at. */
    public static final String ENV_PYTHON_NICE = "BRIDGE_LEARNT_NICE";
    public static final String ENV_LISTEN_FDS = "BRIDGE_LISTEN_FDS";
    public static final String ENV_CONTROL_FD = "BRIDGE_CONTROL_FD";
    /** The {@link #ENV_WORKER_ID} of a standby: a worker JVM without a slot yet, booted ahead of need. */
    public static final String STANDBY_ID = "standby";

    private Control() {}

    /**
     * Wraps one end of a control socket pair in a Netty channel (not yet registered) that splits what
     * arrives into lines for {@code onLine} and calls {@code onClose} when the other end is gone. Lines
     * are written with {@code writeAndFlush(line + "\n")}. Its handlers run on the loop it is registered to.
     */
    public static Channel channel(int fd, Consumer<String> onLine, Runnable onClose) {
        Channel ch = new EpollDomainSocketChannel(fd);
        ch.pipeline()
                .addLast(new LineBasedFrameDecoder(MAX_LINE))
                .addLast(new StringDecoder(StandardCharsets.UTF_8))
                .addLast(new StringEncoder(StandardCharsets.UTF_8))
                .addLast(new SimpleChannelInboundHandler<String>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, String line) {
                        onLine.accept(line.trim());
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        onClose.run();
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        ctx.close();
                    }
                });
        return ch;
    }

    public static String boot(int slot, int generation, int pythonNice) {
        return BOOT + " " + slot + " " + generation + " " + pythonNice;
    }

    public static String heartbeat(long served, long busySince, String summary) {
        return HEARTBEAT + " " + served + " " + busySince + (summary == null ? "" : " " + summary);
    }
}
