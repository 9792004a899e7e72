package dev.bridge.transport;

import dev.bridge.config.ListenAddress;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Listeners on real loopback sockets: how connections waiting in the accept queue are taken. */
class ListenersTest {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private final List<Socket> clients = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (Socket s : clients) {
            s.close();
        }
        group.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS).sync();
    }

    @Test
    void shouldAcceptWaitingConnectionsInBatchesNotOneByOne() throws Exception {
        int waiting = Listeners.ACCEPT_BATCH + 4;
        CountDownLatch accepted = new CountDownLatch(waiting);
        AtomicInteger acceptLoops = new AtomicInteger();
        ChannelInboundHandlerAdapter child = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                accepted.countDown();
            }

            @Override
            public boolean isSharable() {
                return true;
            }
        };
        ListenAddress address = ListenAddress.parse(ListenAddress.Protocol.HTTP, "--http", "127.0.0.1:0");
        Channel listener = Listeners.bind(group, address, Listeners.DEFAULT_BACKLOG, false, child);
        listener.pipeline().addFirst(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                acceptLoops.incrementAndGet();
                ctx.fireChannelReadComplete();
            }
        });
        int port = ((InetSocketAddress) listener.localAddress()).getPort();
        for (int i = 0; i < waiting; i++) {
            clients.add(new Socket("127.0.0.1", port)); // completed by the kernel: waiting in the accept queue
        }
        listener.config().setAutoRead(true);
        assertTrue(accepted.await(10, TimeUnit.SECONDS), "every waiting connection accepted");
        // Netty's default took them one per turn of the event loop: 19 or 20 turns here.
        assertTrue(acceptLoops.get() <= 3, waiting + " waiting connections taken in " + acceptLoops.get()
                + " accept loops: in batches of up to " + Listeners.ACCEPT_BATCH + " they take 2 (3 if one arrives late)");
        listener.close().sync();
    }
}
