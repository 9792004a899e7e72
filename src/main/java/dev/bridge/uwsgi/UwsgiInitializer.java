package dev.bridge.uwsgi;

import dev.bridge.config.Config;
import dev.bridge.response.ResponseEncoder;
import dev.bridge.transport.WorkerChannels;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import org.slf4j.Logger;

/** Assembles a uwsgi connection's pipeline: read marker, decoder, connection handler. Event loop, on accept. */
public final class UwsgiInitializer extends ChannelInitializer<Channel> {

    private final Config config;
    private final WorkerChannels channels;
    private final Logger log;
    private final ResponseEncoder encoder = ResponseEncoder.mirroringVersion();

    public UwsgiInitializer(Config config, WorkerChannels channels, Logger log) {
        this.config = config;
        this.channels = channels;
        this.log = log;
    }

    @Override
    protected void initChannel(Channel ch) {
        UwsgiConnection connection = new UwsgiConnection(config, channels, encoder, log);
        ch.pipeline()
                .addLast("mark", connection.readMarker())
                .addLast("decoder", new UwsgiDecoder(config.bufferSize()))
                .addLast("uwsgi", connection);
    }
}
