package io.jvfio.cli.fault;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import io.jvfio.server.faults.FaultControl;
import io.jvfio.server.faults.FaultControlClient;
import io.jvfio.server.faults.FaultVocabulary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jvfio fault CONTROL list|inject RULE|remove ID|clear|log}: the faults of a running
 * {@code jvfio serve … --fault-control CONTROL}, over its control socket.
 */
@Command(name = "fault", mixinStandardHelpOptions = true,
        description = {"Inspect and change the faults of a running server through its control socket",
                "(jvfio serve ... --fault-control CONTROL):",
                "  list         the armed rules, in plan form, with how often each matched and fired",
                "  inject RULE  arm a rule written as in a plan: inline YAML/JSON such as",
                "               '{on: region, region: bar0, at: 0x14, action: fail, errno: EIO}', or @FILE",
                "  remove ID    disarm the rule ID",
                "  clear        disarm every rule",
                "  log          every firing the server kept: time, rule, action, what matched"})
public final class FaultCommand implements Callable<Integer>, FaultWords.Speaker {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Parameters(index = "0", paramLabel = "CONTROL", description = "The server's fault control socket.")
    Path control;

    @Parameters(index = "1", paramLabel = "list|inject|remove|clear|log", description = "What to do.")
    String verb;

    @Parameters(index = "2", arity = "0..1", paramLabel = "RULE|ID", description = "inject: the rule (or @FILE); remove: the rule's id.")
    String argument;

    @Option(names = "--json", description = "Print the server's JSON replies as they are.")
    boolean json;

    @Override
    public FaultVocabulary faultWords() {
        return FaultVocabulary.core();
    }

    @Override
    public Integer call() throws Exception {
        boolean takesArgument = verb.equals("inject") || verb.equals("remove");
        if (!List.of("list", "inject", "remove", "clear", "log").contains(verb)) {
            throw new IllegalArgumentException("unknown verb '" + verb + "'; use list, inject RULE, remove ID, clear or log");
        }
        if (takesArgument != (argument != null)) {
            throw new IllegalArgumentException(takesArgument ? verb + " needs " + (verb.equals("inject") ? "a RULE" : "an ID")
                    : verb + " takes no argument, not '" + argument + "'");
        }
        try (FaultControlClient client = FaultControlClient.connect(control)) {
            switch (verb) {
                case "list" -> list(client.list());
                case "inject" -> {
                    String id = client.inject(rule(argument));
                    print(JSON.createObjectNode().put("ok", true).put("id", id), "armed " + id);
                }
                case "remove" -> {
                    client.remove(argument);
                    print(JSON.createObjectNode().put("ok", true), "removed " + argument);
                }
                case "clear" -> {
                    int cleared = client.clear();
                    print(JSON.createObjectNode().put("ok", true).put("cleared", cleared),
                            "cleared " + cleared + (cleared == 1 ? " rule" : " rules"));
                }
                default -> log(client);
            }
        }
        return 0;
    }

    /** The rule's text: inline, or the contents of the file after '@'. */
    private static String rule(String argument) throws IOException {
        return argument.startsWith("@") ? Files.readString(Path.of(argument.substring(1))) : argument;
    }

    private void list(JsonNode reply) {
        if (json) {
            System.out.println(reply);
            return;
        }
        if (reply.path("rules").isEmpty()) {
            System.out.println("no rules armed");
        }
        for (JsonNode rule : reply.path("rules")) {
            System.out.printf("%s%n    matched %d, fired %d%n", rule.path("rule").asText(), rule.path("matches").asLong(),
                    rule.path("firings").asLong());
        }
        System.out.println("fired in all: " + reply.path("fired").asLong());
    }

    /** Every firing the server kept, asked for a page at a time. */
    private void log(FaultControlClient client) throws IOException {
        ArrayNode all = JSON.createArrayNode();
        long next = 0;
        JsonNode page;
        do {
            page = client.log(next);
            all.addAll((ArrayNode) page.path("firings"));
            next = page.path("next").asLong();
        } while (page.path("firings").size() >= FaultControl.LOG_PAGE); // a short page reached the end
        if (json) {
            System.out.println(JSON.createObjectNode().put("ok", true).put("next", next).set("firings", all));
            return;
        }
        for (JsonNode f : all) {
            System.out.printf("%s  %s  %s  on %s%n", f.path("time").asText(), f.path("rule").asText(),
                    f.path("action").asText(), f.path("matched").asText());
        }
    }

    private void print(JsonNode reply, String text) {
        System.out.println(json ? reply.toString() : text);
    }
}
