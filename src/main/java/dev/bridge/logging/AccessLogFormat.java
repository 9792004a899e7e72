package dev.bridge.logging;

import dev.bridge.config.ConfigException;

/** Placeholder: the access log's format (--log-format); being written. */
public final class AccessLogFormat {

    private AccessLogFormat() {}

    public static AccessLogFormat compile(String format) throws ConfigException {
        return new AccessLogFormat();
    }
}
