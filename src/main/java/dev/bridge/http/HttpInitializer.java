package dev.bridge.http;

import dev.bridge.config.Config;
import dev.bridge.response.ResponseEncoder;
import dev.bridge.transport.WorkerChannels;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import org.slf4j.Logger;

/**
 * Assembles an HTTP/1.1 connection's pipeline: read marker (request timeout), strict decoder, connection
 * handler. Runs on the event loop when a connection is accepted.
 */
public final class HttpInitializer extends ChannelInitializer<Channel> {

    private final Config config;
    private final WorkerChannels channels;
    private final Logger log;
    private final ResponseEncoder encoder = new ResponseEncoder();

    public HttpInitializer(Config config, WorkerChannels channels, Logger log) {
        this.config = config;
        this.channels = channels;
        this.log = log;
    }

    @Override
    protected void initChannel(Channel ch) {
        HttpConnection connection = new HttpConnection(config, channels, encoder, log);
        ch.pipeline()
                .addLast("mark", connection.readMarker())
                .addLast("decoder", new RequestDecoder(config))
                .addLast("http", connection);
    }
}
