package dev.bridge.wsgi;

/**
 * One complete request, protocol-neutral, as a Python thread needs it.
 *
 * @param environ     the CGI part of the environ (see {@link Environ})
 * @param body        the received body (released when the request is done)
 * @param summary     {@code METHOD target PROTOCOL}, for the access log and error messages
 * @param client      who asked, for the access log: the peer, or the client a proxy (nginx) names
 * @param startNanos  when the request was complete, by {@link System#nanoTime()}
 */
public record WsgiRequest(String environ, RequestBody body, String summary, String client, long startNanos) {}
