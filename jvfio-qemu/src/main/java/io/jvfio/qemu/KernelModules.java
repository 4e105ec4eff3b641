package io.jvfio.qemu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * The guest kernel's modules: finds them by name ('-' and '_' are equivalent), reads their dependencies from
 * each module's ELF {@code .modinfo} section ({@code depends=}), and decompresses them on the host.
 * No modules.dep is needed (the provisioned tree has none).
 */
final class KernelModules {

    /** A resolved, decompressed module. {@code relPath} is relative to /lib/modules/&lt;release&gt;, ends in .ko. */
    record Module(String name, String relPath, List<String> depends, byte[] image) {}

    private final Path modulesDir;
    private final Map<String, Path> byName = new TreeMap<>();
    private final Set<String> builtin = new HashSet<>();

    private KernelModules(Path modulesDir) {
        this.modulesDir = modulesDir;
    }

    static KernelModules index(Path modulesDir) throws IOException {
        KernelModules km = new KernelModules(modulesDir);
        Path kernelDir = modulesDir.resolve("kernel");
        try (Stream<Path> s = Files.walk(kernelDir)) {
            s.filter(Files::isRegularFile).forEach(p -> {
                String n = moduleFileName(p.getFileName().toString());
                if (n != null) km.byName.putIfAbsent(canonical(n), p);
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
        Path builtinList = modulesDir.resolve("modules.builtin");
        if (Files.isRegularFile(builtinList)) {
            for (String line : Files.readAllLines(builtinList, StandardCharsets.UTF_8)) {
                String f = line.strip();
                if (f.isEmpty()) continue;
                String n = moduleFileName(f.substring(f.lastIndexOf('/') + 1));
                if (n != null) km.builtin.add(canonical(n));
            }
        }
        return km;
    }

    /** Module name from a file name like {@code gpio-pci-idio-16.ko.xz}, or null. */
    static String moduleFileName(String file) {
        for (String ext : new String[] {".ko", ".ko.xz", ".ko.zst", ".ko.gz"}) {
            if (file.endsWith(ext)) return file.substring(0, file.length() - ext.length());
        }
        return null;
    }

    /** Module names treat '-' and '_' alike; the kernel's own spelling is with '_'. */
    static String canonical(String name) {
        return name.strip().replace('-', '_');
    }

    boolean isBuiltin(String name) {
        return builtin.contains(canonical(name));
    }

    boolean exists(String name) {
        return byName.containsKey(canonical(name));
    }

    /**
     * Resolves the named modules and their dependencies (transitively), in load order (dependencies first).
     * Built-in modules are skipped silently.
     *
     * @throws IOException if a module is unknown, a dependency cycle exists, or decompression fails
     */
    List<Module> resolve(List<String> names) throws IOException {
        Map<String, Module> loaded = new HashMap<>();
        LinkedHashMap<String, Module> order = new LinkedHashMap<>();
        Set<String> visiting = new LinkedHashSet<>();
        for (String n : names) {
            visit(canonical(n), null, loaded, order, visiting);
        }
        return List.copyOf(order.values());
    }

    private void visit(String name, String requiredBy, Map<String, Module> loaded,
            LinkedHashMap<String, Module> order, Set<String> visiting) throws IOException {
        if (order.containsKey(name)) return;
        if (!byName.containsKey(name)) {
            if (builtin.contains(name)) return;
            throw new IOException("Kernel module '" + name + "'" + (requiredBy == null ? "" : " (needed by " + requiredBy + ")")
                    + " not found under " + modulesDir.resolve("kernel") + " and not built in");
        }
        if (!visiting.add(name)) {
            throw new IOException("Kernel module dependency cycle: " + String.join(" -> ", visiting) + " -> " + name);
        }
        Module m = loaded.get(name);
        if (m == null) {
            m = load(name);
            loaded.put(name, m);
        }
        for (String dep : m.depends()) {
            visit(dep, name, loaded, order, visiting);
        }
        visiting.remove(name);
        order.put(name, m);
    }

    private Module load(String name) throws IOException {
        Path file = byName.get(name);
        byte[] image = decompress(file);
        Map<String, List<String>> info = modinfo(image);
        List<String> deps = new ArrayList<>();
        for (String d : info.getOrDefault("depends", List.of())) {
            for (String part : d.split(",")) {
                if (!part.isBlank()) deps.add(canonical(part));
            }
        }
        String rel = modulesDir.relativize(file).toString();
        rel = rel.substring(0, rel.lastIndexOf(".ko")) + ".ko";
        return new Module(name, rel, List.copyOf(deps), image);
    }

    static byte[] decompress(Path file) throws IOException {
        String f = file.getFileName().toString();
        if (f.endsWith(".ko")) return Files.readAllBytes(file);
        if (f.endsWith(".ko.gz")) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
                return in.readAllBytes();
            }
        }
        if (f.endsWith(".ko.xz")) return runDecompressor("xz", "xz-utils", file);
        if (f.endsWith(".ko.zst")) return runDecompressor("zstd", "zstd", file);
        throw new IOException("Unknown module compression: " + file);
    }

    private static byte[] runDecompressor(String tool, String pkg, Path file) throws IOException {
        Process p;
        try {
            p = new ProcessBuilder(tool, "-dc", file.toString()).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            throw new IOException("Cannot run '" + tool + "' to decompress " + file + " (install " + pkg
                    + " on the host; scripts/provision-guest.sh does): " + e.getMessage(), e);
        }
        p.getOutputStream().close();
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> {
            try (InputStream e = p.getErrorStream()) {
                return e.readAllBytes();
            } catch (IOException e) {
                return new byte[0];
            }
        });
        byte[] data;
        try (InputStream in = p.getInputStream()) {
            data = in.readAllBytes();
        }
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(tool + " -dc " + file + " did not finish");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted", e);
        }
        if (p.exitValue() != 0) {
            throw new IOException(tool + " -dc " + file + " failed (exit " + p.exitValue() + "): "
                    + new String(err.join(), StandardCharsets.UTF_8).strip());
        }
        return data;
    }

    /** Parses the NUL-separated {@code key=value} strings of an ELF64 little-endian module's .modinfo section. */
    static Map<String, List<String>> modinfo(byte[] elf) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        if (elf.length < 64 || b.getInt(0) != 0x464c457f || elf[4] != 2 || elf[5] != 1) {
            throw new IOException("not an ELF64 little-endian kernel module");
        }
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3A));
        int shnum = Short.toUnsignedInt(b.getShort(0x3C));
        int shstrndx = Short.toUnsignedInt(b.getShort(0x3E));
        if (shoff <= 0 || shstrndx >= shnum || shoff + (long) shnum * shentsize > elf.length) {
            throw new IOException("malformed ELF section headers");
        }
        int strtabOff = (int) b.getLong((int) (shoff + (long) shstrndx * shentsize) + 0x18);
        Map<String, List<String>> info = new LinkedHashMap<>();
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + (long) i * shentsize);
            int nameOff = b.getInt(sh);
            if (!".modinfo".equals(cString(elf, strtabOff + nameOff))) continue;
            int off = (int) b.getLong(sh + 0x18);
            int size = (int) b.getLong(sh + 0x20);
            if (off < 0 || size < 0 || off + size > elf.length) throw new IOException("malformed .modinfo");
            int start = off;
            for (int j = off; j <= off + size; j++) {
                if (j == off + size || elf[j] == 0) {
                    if (j > start) {
                        String kv = new String(elf, start, j - start, StandardCharsets.UTF_8);
                        int eq = kv.indexOf('=');
                        if (eq > 0) info.computeIfAbsent(kv.substring(0, eq), k -> new ArrayList<>()).add(kv.substring(eq + 1));
                    }
                    start = j + 1;
                }
            }
            return info;
        }
        return info;
    }

    private static String cString(byte[] b, int off) {
        if (off < 0 || off >= b.length) return "";
        int end = off;
        while (end < b.length && b[end] != 0) end++;
        return new String(b, off, end - off, StandardCharsets.US_ASCII);
    }
}
