package dev.bridge.python;

import java.util.List;
import java.util.Map;

/**
 * What the launcher learnt about the chosen Python with one probe, handed to workers as system properties
 * so they need not probe again.
 *
 * @param executable   the Python executable that was probed
 * @param version      its version, e.g. {@code 3.11.7}
 * @param sysPath      its {@code sys.path} (without the script directory), which the embedded interpreter takes over
 * @param sitePackages its site-packages directories (a virtualenv's first), added with {@code site.addsitedir}
 * @param jepJar       Jep's jar, from the same site-packages as the native library
 * @param jepLibrary   Jep's native library
 * @param jepVersion   Jep's version
 * @param include      the directory of its C headers ({@code Python.h}), for building the native module
 * @param extSuffix    the file name ending of its C extensions, e.g. {@code .cpython-311-x86_64-linux-gnu.so}
 * @param nativeModule the native module built for it ({@link NativeModule}), or "" when none is used
 */
public record PythonRuntime(String executable, String version, List<String> sysPath, List<String> sitePackages,
                            String jepJar, String jepLibrary, String jepVersion, String include, String extSuffix,
                            String nativeModule) {

    private static final String PREFIX = "bridge.python.";

    public PythonRuntime {
        sysPath = List.copyOf(sysPath);
        sitePackages = List.copyOf(sitePackages);
    }

    /** As {@code -D} flags for a worker's command line. */
    public List<String> toJvmFlags() {
        return List.of(
                "-D" + PREFIX + "executable=" + executable,
                "-D" + PREFIX + "version=" + version,
                "-D" + PREFIX + "sysPath=" + String.join(java.io.File.pathSeparator, sysPath),
                "-D" + PREFIX + "sitePackages=" + String.join(java.io.File.pathSeparator, sitePackages),
                "-D" + PREFIX + "jepJar=" + jepJar,
                "-D" + PREFIX + "jepLibrary=" + jepLibrary,
                "-D" + PREFIX + "jepVersion=" + jepVersion,
                "-D" + PREFIX + "include=" + include,
                "-D" + PREFIX + "extSuffix=" + extSuffix,
                "-D" + PREFIX + "nativeModule=" + nativeModule);
    }

    /** Whether this Python's version is {@code minimum} ("3.13") or newer. */
    public boolean atLeast(String minimum) {
        String[] have = version.split("\\.");
        String[] want = minimum.split("\\.");
        for (int i = 0; i < want.length; i++) {
            int h = i < have.length ? leadingNumber(have[i]) : 0;
            int w = Integer.parseInt(want[i]);
            if (h != w) {
                return h > w;
            }
        }
        return true;
    }

    /** 13 of "13", 0 of "0rc1": the digits a version part starts with. */
    private static int leadingNumber(String part) {
        int end = 0;
        while (end < part.length() && Character.isDigit(part.charAt(end))) {
            end++;
        }
        return end == 0 ? 0 : Integer.parseInt(part.substring(0, end));
    }

    /** The same runtime with the native module built for it. */
    public PythonRuntime withNativeModule(String path) {
        return new PythonRuntime(executable, version, sysPath, sitePackages, jepJar, jepLibrary, jepVersion, include,
                extSuffix, path);
    }

    /** Reads what {@link #toJvmFlags()} wrote; null when this JVM was not started by a launcher. */
    public static PythonRuntime fromSystemProperties(Map<Object, Object> props) {
        String exe = (String) props.get(PREFIX + "executable");
        if (exe == null) {
            return null;
        }
        return new PythonRuntime(exe, (String) props.get(PREFIX + "version"),
                paths((String) props.get(PREFIX + "sysPath")), paths((String) props.get(PREFIX + "sitePackages")),
                (String) props.get(PREFIX + "jepJar"), (String) props.get(PREFIX + "jepLibrary"),
                (String) props.get(PREFIX + "jepVersion"), (String) props.getOrDefault(PREFIX + "include", ""),
                (String) props.getOrDefault(PREFIX + "extSuffix", ""),
                (String) props.getOrDefault(PREFIX + "nativeModule", ""));
    }

    private static List<String> paths(String joined) {
        return joined == null || joined.isEmpty() ? List.of() : List.of(joined.split(java.io.File.pathSeparator));
    }
}
