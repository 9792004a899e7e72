package dev.bridge.config;

import java.net.InetAddress;
import java.net.UnknownHostException;

/** An address block such as {@code 10.0.0.0/8} or {@code ::1/128}, for --trusted-proxy and --uwsgi-allow-from. Immutable. */
public record Cidr(InetAddress network, int prefix) {

    public static Cidr parse(String flag, String value) throws ConfigException {
        String[] parts = value.trim().split("/", 2);
        try {
            if (!parts[0].matches("[0-9a-fA-F:.]+")) {
                throw new UnknownHostException(parts[0]);
            }
            InetAddress addr = InetAddress.getByName(parts[0]);
            int bits = addr.getAddress().length * 8;
            int prefix = parts.length == 2 ? Integer.parseInt(parts[1]) : bits;
            if (prefix < 0 || prefix > bits) {
                throw new NumberFormatException();
            }
            return new Cidr(addr, prefix);
        } catch (UnknownHostException | NumberFormatException e) {
            throw new ConfigException(flag + " " + value + ": expected an address block such as 10.0.0.0/8 or ::1");
        }
    }

    /** As a block's text with its prefix ({@code 10.0.0.0/8}): what the Python glue packs for the C loop. */
    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefix;
    }

    /** Whether any of {@code blocks} contains {@code address}. */
    public static boolean anyContains(java.util.List<Cidr> blocks, InetAddress address) {
        for (Cidr c : blocks) {
            if (c.contains(address)) {
                return true;
            }
        }
        return false;
    }

    public boolean contains(InetAddress address) {
        byte[] a = address.getAddress();
        byte[] network = this.network.getAddress();
        if (a.length != network.length) {
            return false;
        }
        int full = prefix / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != network[i]) {
                return false;
            }
        }
        int rest = prefix % 8;
        if (rest == 0) {
            return true;
        }
        int mask = 0xFF << (8 - rest) & 0xFF;
        return (a[full] & mask) == (network[full] & mask);
    }
}
