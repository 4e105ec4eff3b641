package com.example.ledpanel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * jvfio's docs/writing-a-device.md quotes this project: each code block after a
 * {@code <!-- quoted from FILE -->} line must still be in FILE (indentation aside). Skipped when the
 * project is built outside jvfio's checkout, where the document is not.
 */
class WritingADeviceDocTest {
    private static final Path CHECKOUT = Path.of("../..");
    private static final Path DOCUMENT = CHECKOUT.resolve("docs/writing-a-device.md");
    private static final Pattern QUOTE = Pattern.compile("<!-- quoted from (\\S+) -->\\n```\\w*\\n(.*?)\\n```", Pattern.DOTALL);

    @Test
    void everyQuoteInTheDocumentIsStillInTheCodeItNames() throws IOException {
        assumeTrue(Files.isRegularFile(DOCUMENT), "not inside jvfio's checkout: no " + DOCUMENT);
        Matcher quote = QUOTE.matcher(Files.readString(DOCUMENT));
        List<String> stale = new ArrayList<>();
        int quotes = 0;
        while (quote.find()) {
            quotes++;
            String source = withoutIndentation(Files.readString(CHECKOUT.resolve(quote.group(1))));
            if (!source.contains(withoutIndentation(quote.group(2)))) {
                stale.add(quote.group(1) + ":\n" + quote.group(2));
            }
        }
        assertTrue(quotes > 0, "the document quotes nothing: has its marker changed?");
        assertEquals(List.of(), stale, "quotes no longer in the code they name");
    }

    private static String withoutIndentation(String text) {
        return text.lines().map(String::strip).collect(Collectors.joining("\n"));
    }
}
