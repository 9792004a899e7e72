/**
 * What the HTTP/1.1 listener and the uwsgi listener served by Netty ({@code --uwsgi-loop netty}) share: a
 * connection's registration and its response in flight ({@link dev.bridge.response.ServedConnection}), and
 * the response written as HTTP/1.x, which both protocols answer with ({@link dev.bridge.response.HttpResponder},
 * {@link dev.bridge.response.ResponseEncoder}). Event loop only.
 */
package dev.bridge.response;
