package io.jvfio.protocol;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;
import java.util.OptionalInt;

/**
 * The VERSION capabilities JSON, {@code {"capabilities": {...}}} (spec §1.4). Immutable: the {@code with...}
 * methods return a copy. Unknown keys (at any level) are kept and re-encoded. Getters return the spec
 * defaults for absent keys; {@link #has} tells whether a key was present.
 */
public final class VersionCapabilities {
    public static final String ROOT = "capabilities";
    public static final String MAX_MSG_FDS = "max_msg_fds";
    public static final String MAX_DATA_XFER_SIZE = "max_data_xfer_size";
    public static final String MAX_DMA_MAPS = "max_dma_maps";
    public static final String PGSIZES = "pgsizes";
    public static final String TWIN_SOCKET = "twin_socket";
    public static final String TWIN_SOCKET_SUPPORTED = "supported";
    public static final String TWIN_SOCKET_FD_INDEX = "fd_index";
    public static final String WRITE_MULTIPLE = "write_multiple";
    public static final String MIGRATION = "migration";
    public static final String MIGRATION_PGSIZE = "pgsize";
    public static final String MIGRATION_MAX_BITMAP_SIZE = "max_bitmap_size";

    public static final int DEFAULT_MAX_MSG_FDS = 1;
    public static final long DEFAULT_MAX_DATA_XFER_SIZE = 1048576;
    public static final long DEFAULT_MAX_DMA_MAPS = 65535;
    public static final long DEFAULT_PGSIZES = 4096;
    /** QEMU's defaults for the legacy migration block. */
    public static final long DEFAULT_MIGRATION_PGSIZE = 4096;
    public static final long DEFAULT_MIGRATION_MAX_BITMAP_SIZE = 256L * 1024 * 1024;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    /** {@code {"capabilities":{}}}: every value at its default. */
    public static final VersionCapabilities DEFAULTS = new VersionCapabilities(emptyRoot());

    private final ObjectNode root;

    private VersionCapabilities(ObjectNode root) {
        this.root = root;
    }

    private static ObjectNode emptyRoot() {
        ObjectNode r = JsonNodeFactory.instance.objectNode();
        r.putObject(ROOT);
        return r;
    }

    /** Parses and type-checks the JSON text (without the trailing NUL); EINVAL when malformed. */
    public static VersionCapabilities parse(String json) throws ProtocolException {
        JsonNode node;
        try {
            node = MAPPER.readTree(json);
        } catch (JacksonException e) {
            throw ProtocolException.invalid("VERSION: malformed capabilities JSON: " + e.getOriginalMessage());
        }
        if (node == null || node.isMissingNode()) {
            throw ProtocolException.invalid("VERSION: empty capabilities JSON");
        }
        if (!(node instanceof ObjectNode obj)) {
            throw ProtocolException.invalid("VERSION: capabilities JSON is a " + node.getNodeType() + ", not an object");
        }
        check(obj);
        return new VersionCapabilities(obj);
    }

    private static void check(ObjectNode root) throws ProtocolException {
        JsonNode caps = root.get(ROOT);
        if (caps == null) {
            return;
        }
        if (!caps.isObject()) {
            throw typeError(ROOT, "an object", caps);
        }
        checkUnsigned(caps, MAX_MSG_FDS, ROOT, Integer.MAX_VALUE);
        checkUnsigned(caps, MAX_DATA_XFER_SIZE, ROOT, Long.MAX_VALUE);
        checkUnsigned(caps, MAX_DMA_MAPS, ROOT, Long.MAX_VALUE);
        checkUnsigned(caps, PGSIZES, ROOT, Long.MAX_VALUE);
        checkBoolean(caps, WRITE_MULTIPLE, ROOT);
        JsonNode twin = caps.get(TWIN_SOCKET);
        if (twin != null) {
            if (!twin.isObject()) {
                throw typeError(ROOT + "." + TWIN_SOCKET, "an object", twin);
            }
            checkBoolean(twin, TWIN_SOCKET_SUPPORTED, ROOT + "." + TWIN_SOCKET);
            checkUnsigned(twin, TWIN_SOCKET_FD_INDEX, ROOT + "." + TWIN_SOCKET, Integer.MAX_VALUE);
        }
        JsonNode mig = caps.get(MIGRATION);
        if (mig != null) {
            if (!mig.isObject()) {
                throw typeError(ROOT + "." + MIGRATION, "an object", mig);
            }
            checkUnsigned(mig, MIGRATION_PGSIZE, ROOT + "." + MIGRATION, Long.MAX_VALUE);
            checkUnsigned(mig, MIGRATION_MAX_BITMAP_SIZE, ROOT + "." + MIGRATION, Long.MAX_VALUE);
        }
    }

    private static void checkUnsigned(JsonNode parent, String key, String where, long max) throws ProtocolException {
        JsonNode v = parent.get(key);
        if (v == null) {
            return;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0 || v.asLong() > max) {
            throw typeError(where + "." + key, "an integer in [0, " + max + "]", v);
        }
    }

    private static void checkBoolean(JsonNode parent, String key, String where) throws ProtocolException {
        JsonNode v = parent.get(key);
        if (v != null && !v.isBoolean()) {
            throw typeError(where + "." + key, "a boolean", v);
        }
    }

    private static ProtocolException typeError(String path, String expected, JsonNode got) {
        String text = got.toString();
        if (text.length() > 40) {
            text = text.substring(0, 40) + "...";
        }
        return ProtocolException.invalid("VERSION: capability " + path + " must be " + expected + ", got " + text);
    }

    /** Compact JSON text (no NUL). */
    public String toJson() {
        try {
            return MAPPER.writeValueAsString(root);
        } catch (JacksonException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A deep copy of the whole JSON tree. */
    public ObjectNode json() {
        return root.deepCopy();
    }

    private JsonNode caps() {
        JsonNode c = root.get(ROOT);
        return c == null ? JsonNodeFactory.instance.objectNode() : c;
    }

    /** True when {@code key} is present inside {@code "capabilities"}. */
    public boolean has(String key) {
        return caps().has(key);
    }

    public int maxMsgFds() {
        JsonNode v = caps().get(MAX_MSG_FDS);
        return v == null ? DEFAULT_MAX_MSG_FDS : v.asInt();
    }

    public long maxDataXferSize() {
        return longOr(caps(), MAX_DATA_XFER_SIZE, DEFAULT_MAX_DATA_XFER_SIZE);
    }

    public long maxDmaMaps() {
        return longOr(caps(), MAX_DMA_MAPS, DEFAULT_MAX_DMA_MAPS);
    }

    public long pgsizes() {
        return longOr(caps(), PGSIZES, DEFAULT_PGSIZES);
    }

    public boolean writeMultiple() {
        JsonNode v = caps().get(WRITE_MULTIPLE);
        return v != null && v.asBoolean();
    }

    public boolean twinSocketSupported() {
        JsonNode t = caps().get(TWIN_SOCKET);
        return t != null && t.path(TWIN_SOCKET_SUPPORTED).asBoolean(false);
    }

    /** The fd_index of a twin-socket reply, if present. */
    public OptionalInt twinSocketFdIndex() {
        JsonNode t = caps().get(TWIN_SOCKET);
        JsonNode v = t == null ? null : t.get(TWIN_SOCKET_FD_INDEX);
        return v == null ? OptionalInt.empty() : OptionalInt.of(v.asInt());
    }

    public boolean hasMigration() {
        return has(MIGRATION);
    }

    public long migrationPgsize() {
        return longOr(caps().path(MIGRATION), MIGRATION_PGSIZE, DEFAULT_MIGRATION_PGSIZE);
    }

    public long migrationMaxBitmapSize() {
        return longOr(caps().path(MIGRATION), MIGRATION_MAX_BITMAP_SIZE, DEFAULT_MIGRATION_MAX_BITMAP_SIZE);
    }

    private static long longOr(JsonNode parent, String key, long dflt) {
        JsonNode v = parent.get(key);
        return v == null ? dflt : v.asLong();
    }

    // ---- builders

    private interface Edit {
        void apply(ObjectNode caps);
    }

    private VersionCapabilities edit(Edit e) {
        ObjectNode copy = root.deepCopy();
        JsonNode c = copy.get(ROOT);
        ObjectNode caps = c instanceof ObjectNode o ? o : copy.putObject(ROOT);
        e.apply(caps);
        try {
            check(copy);
        } catch (ProtocolException ex) {
            throw new IllegalArgumentException(ex.getMessage(), ex);
        }
        return new VersionCapabilities(copy);
    }

    /** Stores numbers the way the parser would (int when it fits), so built and parsed trees compare equal. */
    private static void putNumber(ObjectNode o, String key, long v) {
        if (v == (int) v) {
            o.put(key, (int) v);
        } else {
            o.put(key, v);
        }
    }

    private static final java.util.Comparator<JsonNode> NUMERIC = (a, b) -> {
        if (a.equals(b)) {
            return 0;
        }
        if (a.isNumber() && b.isNumber()) {
            return a.decimalValue().compareTo(b.decimalValue());
        }
        return 1;
    };

    private static void requireNonNegative(long v, String key) {
        if (v < 0) {
            throw new IllegalArgumentException(key + " must not be negative: " + v);
        }
    }

    public VersionCapabilities withMaxMsgFds(int v) {
        requireNonNegative(v, MAX_MSG_FDS);
        return edit(c -> c.put(MAX_MSG_FDS, v));
    }

    public VersionCapabilities withMaxDataXferSize(long v) {
        requireNonNegative(v, MAX_DATA_XFER_SIZE);
        return edit(c -> putNumber(c, MAX_DATA_XFER_SIZE, v));
    }

    public VersionCapabilities withMaxDmaMaps(long v) {
        requireNonNegative(v, MAX_DMA_MAPS);
        return edit(c -> putNumber(c, MAX_DMA_MAPS, v));
    }

    public VersionCapabilities withPgsizes(long v) {
        requireNonNegative(v, PGSIZES);
        return edit(c -> putNumber(c, PGSIZES, v));
    }

    public VersionCapabilities withWriteMultiple(boolean v) {
        return edit(c -> c.put(WRITE_MULTIPLE, v));
    }

    /** {@code twin_socket: {supported: v}} (the form a client offers). */
    public VersionCapabilities withTwinSocket(boolean supported) {
        return edit(c -> c.putObject(TWIN_SOCKET).put(TWIN_SOCKET_SUPPORTED, supported));
    }

    /** {@code twin_socket: {supported: true, fd_index: i}} (the form a server replies with). */
    public VersionCapabilities withTwinSocket(int fdIndex) {
        requireNonNegative(fdIndex, TWIN_SOCKET_FD_INDEX);
        return edit(c -> c.putObject(TWIN_SOCKET).put(TWIN_SOCKET_SUPPORTED, true).put(TWIN_SOCKET_FD_INDEX, fdIndex));
    }

    public VersionCapabilities withMigration(long pgsize, long maxBitmapSize) {
        requireNonNegative(pgsize, MIGRATION_PGSIZE);
        requireNonNegative(maxBitmapSize, MIGRATION_MAX_BITMAP_SIZE);
        return edit(c -> {
            ObjectNode m = c.putObject(MIGRATION);
            putNumber(m, MIGRATION_PGSIZE, pgsize);
            putNumber(m, MIGRATION_MAX_BITMAP_SIZE, maxBitmapSize);
        });
    }

    /** {@code migration: {pgsize: p}} only (what libvfio-user and rust-vmm send). */
    public VersionCapabilities withMigrationPgsize(long pgsize) {
        requireNonNegative(pgsize, MIGRATION_PGSIZE);
        return edit(c -> putNumber(c.putObject(MIGRATION), MIGRATION_PGSIZE, pgsize));
    }

    /** Sets any key inside {@code "capabilities"} (type-checked if it is a known key). */
    public VersionCapabilities with(String key, JsonNode value) {
        JsonNode copy = value.deepCopy();
        return edit(c -> c.set(key, copy));
    }

    /** Removes a key from {@code "capabilities"}. */
    public VersionCapabilities without(String key) {
        return edit(c -> c.remove(key));
    }

    /** Keys inside {@code "capabilities"} this class does not interpret. */
    public java.util.List<String> unknownKeys() {
        java.util.List<String> out = new java.util.ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = caps().properties().iterator(); it.hasNext(); ) {
            String k = it.next().getKey();
            switch (k) {
                case MAX_MSG_FDS, MAX_DATA_XFER_SIZE, MAX_DMA_MAPS, PGSIZES, TWIN_SOCKET, WRITE_MULTIPLE, MIGRATION -> { }
                default -> out.add(k);
            }
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VersionCapabilities c && root.equals(NUMERIC, c.root);
    }

    @Override
    public int hashCode() {
        return root.hashCode();
    }

    @Override
    public String toString() {
        return toJson();
    }
}
