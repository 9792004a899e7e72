package dev.bridge.uwsgi;

import dev.bridge.config.Cidr;
import dev.bridge.config.Config;
import dev.bridge.response.ResponseEncoder;
import dev.bridge.transport.WorkerChannels;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import org.slf4j.Logger;

import java.net.InetSocketAddress;

/**
 * Assembles a uwsgi connection's pipeline: read marker, decoder, connection handler; a TCP peer not in
 * --uwsgi-allow-from is closed first (the protocol lets a peer say REMOTE_ADDR and every header). Event loop, on
 * accept.
 */
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
        if (ch.remoteAddress() instanceof InetSocketAddress peer && !Cidr.anyContains(config.uwsgiAllowFrom(), peer.getAddress())) {
            log.warn("uwsgi connection from " + peer + " refused: not in --uwsgi-allow-from, so it could forge "
                    + "REMOTE_ADDR and any header; closing it");
            ch.close();
            return;
        }
        UwsgiConnection connection = new UwsgiConnection(config, channels, encoder, log);
        ch.pipeline()
                .addLast("mark", connection.readMarker())
                .addLast("decoder", new UwsgiDecoder(config.bufferSize()))
                .addLast("uwsgi", connection);
    }
}
