package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.StringWriter;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Java code quoted in the repository's Markdown, compiled against the modules as they are (the test
 * class path) and run, so that what the documents show is what works.
 */
final class MarkdownJava {
    private MarkdownJava() {}

    /** The checkout's root: the nearest directory with a README.md, from where the test runs (a module, or the root) upward. */
    static Path repository() {
        Path repository = Path.of("").toAbsolutePath();
        while (!Files.exists(repository.resolve("README.md"))) {
            repository = repository.getParent();
        }
        return repository;
    }

    /**
     * Compiles each source (by its public class's name) into {@code dir}, asserting that all compile,
     * and returns a loader for them above the test's own classes; the caller closes it.
     */
    static URLClassLoader compile(Path dir, Map<String, String> sourcesByClass) throws IOException {
        Path sources = Files.createDirectories(dir.resolve("src")), classes = Files.createDirectories(dir.resolve("classes"));
        List<Path> files = new ArrayList<>();
        for (Map.Entry<String, String> source : sourcesByClass.entrySet()) {
            files.add(Files.writeString(sources.resolve(source.getKey() + ".java"), source.getValue()));
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StringWriter diagnostics = new StringWriter();
        try (StandardJavaFileManager fileManager = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
            boolean compiled = javac.getTask(diagnostics, fileManager, null,
                    List.of("-d", classes.toString(), "-classpath", System.getProperty("java.class.path"), "-proc:none"), null,
                    fileManager.getJavaFileObjects(files.toArray(Path[]::new))).call();
            assertThat(compiled).as("the examples compile:%n%s", diagnostics).isTrue();
        }
        return new URLClassLoader(new URL[] {classes.toUri().toURL()}, MarkdownJava.class.getClassLoader());
    }

    /**
     * Calls the static method {@code method} of {@code className} with {@code args} (all strings) and
     * returns what it printed on System.out; what it throws is thrown as it is.
     */
    static String printedBy(ClassLoader loader, String className, String method, String... args) throws Exception {
        Class<?>[] types = new Class<?>[args.length];
        Arrays.fill(types, String.class);
        Method run = loader.loadClass(className).getMethod(method, types);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream systemOut = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            run.invoke(null, (Object[]) args);
        } catch (InvocationTargetException e) {
            if (e.getCause() instanceof Exception cause) {
                throw cause;
            }
            throw e;
        } finally {
            System.setOut(systemOut);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
