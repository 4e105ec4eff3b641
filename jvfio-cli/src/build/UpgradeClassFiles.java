import java.io.IOException;
import java.io.InputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;

/**
 * Build step of jvfio-cli (run by the exec plugin with the JDK's source launcher): rewrites, in place,
 * every jar in the directory given whose classes are older than Java 6 (class-file version &lt; 50)
 * to version 52, with stack maps computed by the JDK's class-file API. Nothing else in the classes
 * changes. Jars with no such class are left alone (and keep their time stamps).
 *
 * <p>Why: JDK 25's AOT cache does not store linked classes of version &lt; 50 (JDK-8317269 lifts
 * this after JDK 25), and picocli is compiled for Java 5. Without this, every start of {@code jvfio} loads,
 * verifies (with the old inference verifier) and links about 180 picocli classes from the jar.
 */
public final class UpgradeClassFiles {
    private static final int OLD = ClassFile.JAVA_6_VERSION;
    private static final int TARGET = ClassFile.JAVA_8_VERSION;

    public static void main(String[] args) throws IOException {
        try (var jars = Files.list(Path.of(args[0]))) {
            for (Path jar : jars.filter(p -> p.toString().endsWith(".jar")).sorted().toList()) {
                if (hasOldClasses(jar)) {
                    System.out.println("upgraded " + upgrade(jar) + " classes of " + jar.getFileName() + " to version " + TARGET);
                }
            }
        }
    }

    private static boolean hasOldClasses(Path jar) throws IOException {
        try (JarFile in = new JarFile(jar.toFile())) {
            for (JarEntry e : Collections.list(in.entries())) {
                if (isClass(e)) {
                    try (InputStream s = in.getInputStream(e)) {
                        byte[] header = s.readNBytes(8);
                        if (header.length == 8 && ((header[6] & 0xff) << 8 | header[7] & 0xff) < OLD) {
                            return true;
                        }
                    }
                }
            }
        }
        return false;
    }

    private static int upgrade(Path jar) throws IOException {
        Path tmp = jar.resolveSibling(jar.getFileName() + ".tmp");
        int upgraded = 0;
        // Stack maps need the class hierarchy: the JDK's, and the jar's own classes.
        try (URLClassLoader own = new URLClassLoader(new URL[] {jar.toUri().toURL()}, null);
                JarFile in = new JarFile(jar.toFile());
                JarOutputStream out = new JarOutputStream(Files.newOutputStream(tmp))) {
            ClassFile cf = ClassFile.of(ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.defaultResolver()
                            .orElse(ClassHierarchyResolver.ofResourceParsing(own))));
            ClassTransform toTarget = ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL)
                    .andThen((builder, element) -> {
                        if (element instanceof ClassFileVersion) {
                            builder.withVersion(TARGET, 0);
                        } else {
                            builder.with(element);
                        }
                    });
            for (JarEntry e : Collections.list(in.entries())) {
                byte[] bytes;
                try (InputStream s = in.getInputStream(e)) {
                    bytes = s.readAllBytes();
                }
                if (isClass(e)) {
                    ClassModel model = cf.parse(bytes);
                    if (model.majorVersion() < OLD) {
                        bytes = cf.transformClass(model, toTarget);
                        upgraded++;
                    }
                }
                JarEntry copy = new JarEntry(e.getName());
                copy.setTime(e.getTime());
                out.putNextEntry(copy);
                out.write(bytes);
                out.closeEntry();
            }
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return upgraded;
    }

    private static boolean isClass(JarEntry e) {
        return e.getName().endsWith(".class") && !e.getName().endsWith("module-info.class");
    }
}
