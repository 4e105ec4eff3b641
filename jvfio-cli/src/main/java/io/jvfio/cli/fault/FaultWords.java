package io.jvfio.cli.fault;

import io.jvfio.server.faults.FaultVocabulary;
import java.util.Map;
import picocli.CommandLine;

/**
 * The words of fault plans in help texts: {@code jvfio fault --help} and {@code jvfio serve DEVICE
 * --help} end with the match kinds and actions their vocabulary knows, taken from the vocabulary
 * itself so that a device's own words show once it has them.
 */
public final class FaultWords {
    private FaultWords() {}

    /** A command whose help lists the fault plan words it understands. */
    public interface Speaker {
        /** The words its fault plans and injected rules may use. */
        FaultVocabulary faultWords();
    }

    /** Makes {@code cli}'s help end with the words, if its command is a {@link Speaker}. */
    public static void addHelp(CommandLine cli) {
        if (cli.getCommand() instanceof Speaker speaker) {
            cli.getHelpSectionMap().put(CommandLine.Model.UsageMessageSpec.SECTION_KEY_FOOTER,
                    help -> help.footer() + text(speaker.faultWords()));
        }
    }

    /** The kinds ({@code on:}) and actions ({@code action:}) of {@code vocabulary}, one a line. */
    public static String text(FaultVocabulary vocabulary) {
        String nl = System.lineSeparator();
        StringBuilder text = new StringBuilder(nl + "Fault plan words (docs/fault-injection.md):" + nl + "  on: (what a rule matches)" + nl);
        append(text, vocabulary.matchKinds());
        text.append("  action:").append(nl);
        append(text, vocabulary.actions());
        return text.toString();
    }

    private static void append(StringBuilder text, Map<String, String> words) {
        int width = words.keySet().stream().mapToInt(String::length).max().orElse(0);
        words.forEach((word, meaning) -> text.append("    ").append(word).append(" ".repeat(width - word.length() + 2))
                .append(meaning).append(System.lineSeparator()));
    }
}
