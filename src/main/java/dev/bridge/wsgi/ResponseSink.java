package dev.bridge.wsgi;

import io.netty.channel.ChannelFuture;

import java.nio.channels.FileChannel;

/**
 * Where a protocol (HTTP/1.1, later uwsgi) puts one request's response: it owns framing, keep-alive and
 * access logging. Every method runs on the connection's event loop; {@link WsgiExchange} hops there.
 * A sink is used for exactly one response: {@code full}, or {@code start} then {@code chunk}s then
 * {@code end}, or {@code sendfile}, or {@code abort} at any point.
 */
public interface ResponseSink {

    /** The whole response at once: the body is {@code data} from {@code offset} to its end. */
    void full(AppResponseHead head, byte[] data, int offset);

    /** Sends the head with the first non-empty chunk. */
    ChannelFuture start(AppResponseHead head, byte[] first);

    /** One more chunk of the body; the future completes when it is written to the socket. */
    ChannelFuture chunk(byte[] data);

    /** The body is complete. */
    void end();

    /** The head, then {@code count} bytes of the file from {@code offset}, zero-copy; the sink closes the file. */
    void sendfile(AppResponseHead head, FileChannel file, long offset, long count);

    /** The response cannot be completed: cut the connection so the client cannot take it as whole. */
    void abort(String why);

    /** Python is done with this request (its thread is free again). */
    void pythonDone();
}
