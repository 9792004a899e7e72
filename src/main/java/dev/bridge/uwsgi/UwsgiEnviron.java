package dev.bridge.uwsgi;

import dev.bridge.wsgi.Environ;

import java.util.Map;

/**
 * The environ of a uwsgi request: the vars as nginx sent them (the stock {@code uwsgi_params} are already
 * CGI keys), completed where PEP 3333 requires a key nginx may not send. Event loop only.
 *
 * <ul>
 *   <li>{@code wsgi.url_scheme} is https when {@code UWSGI_SCHEME} says so or {@code HTTPS} is on, else the
 *       {@code REQUEST_SCHEME} var, else http.
 *   <li>modifier1 30 strips SCRIPT_NAME from the front of PATH_INFO at a segment boundary (uWSGI's
 *       mountpoint behaviour); a PATH_INFO outside the mount point keeps its whole path, SCRIPT_NAME empty.
 *   <li>Without PATH_INFO, it is the percent-decoded path of REQUEST_URI.
 *   <li>HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH are left out (PEP 3333: only the CONTENT_* forms).
 *   <li>HTTP_TRANSFER_ENCODING is left in the environ but plays no part in framing: the body is always
 *       CONTENT_LENGTH bytes (nginx de-chunks uploads).
 * </ul>
 */
final class UwsgiEnviron {

    private UwsgiEnviron() {}

    /** Returns null, with nothing built, when the vars lack REQUEST_METHOD. */
    static String build(UwsgiPacket.Request req) {
        Map<String, String> vars = req.vars();
        if (!vars.containsKey("REQUEST_METHOD")) {
            return null;
        }
        Environ env = new Environ();
        String scriptName = vars.getOrDefault("SCRIPT_NAME", "");
        String pathInfo = vars.get("PATH_INFO");
        if (pathInfo == null) {
            String uri = vars.getOrDefault("REQUEST_URI", "/");
            int q = uri.indexOf('?');
            pathInfo = Environ.decodePath(q < 0 ? uri : uri.substring(0, q));
            if (pathInfo == null) {
                return null;
            }
        }
        if (req.modifier1() == UwsgiDecoder.WSGI_STRIP_SCRIPT_NAME && !scriptName.isEmpty()) {
            if (pathInfo.equals(scriptName) || pathInfo.startsWith(scriptName + "/")) {
                pathInfo = pathInfo.substring(scriptName.length());
            } else {
                scriptName = ""; // /app does not mount /application: the whole path is the app's
            }
        }
        String scheme = vars.get("UWSGI_SCHEME");
        if (scheme == null) {
            String https = vars.getOrDefault("HTTPS", "");
            scheme = https.equalsIgnoreCase("on") || https.equals("1") ? "https" : vars.getOrDefault("REQUEST_SCHEME", "http");
        }
        for (Map.Entry<String, String> e : vars.entrySet()) {
            switch (e.getKey()) {
                // nginx's stock uwsgi_params pass the client's Content-Type and Content-Length both as
                // CONTENT_* and as HTTP_CONTENT_*; PEP 3333 forbids the latter (wsgiref.validate rejects them).
                case "SCRIPT_NAME", "PATH_INFO", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH" -> { }
                default -> env.put(e.getKey(), e.getValue());
            }
        }
        env.put("SCRIPT_NAME", scriptName).put("PATH_INFO", pathInfo).put("wsgi.url_scheme", scheme);
        putDefault(env, vars, "QUERY_STRING", "");
        putDefault(env, vars, "SERVER_PROTOCOL", "HTTP/1.1");
        putDefault(env, vars, "SERVER_NAME", "localhost");
        putDefault(env, vars, "SERVER_PORT", "");
        putDefault(env, vars, "REMOTE_ADDR", "");
        return env.build();
    }

    private static void putDefault(Environ env, Map<String, String> vars, String key, String value) {
        if (!vars.containsKey(key)) {
            env.put(key, value);
        }
    }
}
