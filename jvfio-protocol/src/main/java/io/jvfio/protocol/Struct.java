package io.jvfio.protocol;

import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One wire struct declared once: a packed little-endian {@link StructLayout} with named fields, bound to
 * the record that carries it. Offsets, the encoder and the decoder all come from that declaration.
 *
 * <p>Encoding writes each named field from the record's public no-argument method of the same name (a
 * component, or a derived value such as a count) and zeros for padding; a {@code byte[]} component that
 * is no field is the data that follows the struct. Decoding fills every component that names a field
 * from the bytes (u8/u16 unsigned; a u32 into a {@code long} unsigned) and the other components (the
 * data, capabilities, ...) from the caller's arguments, in order. This is reflective and allocates: it
 * serves the setup-time messages. The hot paths ({@link Header}, {@link RegionAccess}, {@link DmaAccess})
 * read and write at offsets taken from their layouts.
 */
final class Struct<R extends Record> {
    private static final Map<Class<?>, Struct<?>> BY_RECORD = new ConcurrentHashMap<>();

    private final Class<R> type;
    private final StructLayout layout;
    private final String what;
    private final int size;
    private final boolean checksArgsz;
    private final List<Field> fields = new ArrayList<>();
    /** Per record component: the field it is decoded from, or null (taken from the decode arguments). */
    private final Field[] componentFields;
    private final MethodHandle constructor;
    /** The accessor of the data after the struct (a {@code byte[]} component that is no field), or null. */
    private final MethodHandle tail;

    /** A named field: its offset, its layout and its getter on the record. */
    private record Field(String name, long offset, ValueLayout layout, MethodHandle getter) {
        long end() {
            return offset + layout.byteSize();
        }
    }

    private Struct(Class<R> type, String what, StructLayout layout, boolean checksArgsz) {
        this.type = type;
        this.layout = layout;
        this.what = what;
        this.size = Math.toIntExact(layout.byteSize());
        this.checksArgsz = checksArgsz;
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        try {
            for (MemoryLayout m : layout.memberLayouts()) {
                if (m instanceof ValueLayout v) {
                    String name = v.name().orElseThrow();
                    fields.add(new Field(name, offset(name), v, lookup.unreflect(type.getMethod(name))));
                }
            }
            RecordComponent[] components = type.getRecordComponents();
            componentFields = new Field[components.length];
            Class<?>[] types = new Class<?>[components.length];
            MethodHandle data = null;
            for (int i = 0; i < components.length; i++) {
                types[i] = components[i].getType();
                componentFields[i] = field(components[i].getName());
                if (componentFields[i] == null && types[i] == byte[].class) {
                    data = lookup.unreflect(components[i].getAccessor());
                }
            }
            tail = data;
            constructor = lookup.findConstructor(type, MethodType.methodType(void.class, types));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        BY_RECORD.put(type, this);
    }

    /** {@code type}'s struct with these fields in order, named {@code what} in error messages. */
    static <R extends Record> Struct<R> of(Class<R> type, String what, MemoryLayout... fields) {
        return new Struct<>(type, what, MemoryLayout.structLayout(fields), false);
    }

    /** {@code type}'s struct over a layout it shares with other records. */
    static <R extends Record> Struct<R> of(Class<R> type, String what, StructLayout layout) {
        return new Struct<>(type, what, layout, false);
    }

    /** The same struct, whose decoder also requires its u32 {@code argsz} to cover the struct (EINVAL). */
    Struct<R> checkingArgsz() {
        return new Struct<>(type, what, layout, true);
    }

    /** The struct declared for {@code value}'s record class. */
    @SuppressWarnings("unchecked")
    static Struct<Record> of(Record value) {
        return (Struct<Record>) BY_RECORD.get(value.getClass());
    }

    static ValueLayout u8(String name) {
        return Wire.U8.withName(name);
    }

    static ValueLayout u16(String name) {
        return Wire.U16.withName(name);
    }

    static ValueLayout u32(String name) {
        return Wire.U32.withName(name);
    }

    static ValueLayout u64(String name) {
        return Wire.U64.withName(name);
    }

    /** Reserved bytes: written as zeros, never read. */
    static MemoryLayout reserved(long bytes) {
        return MemoryLayout.paddingLayout(bytes);
    }

    /** A layout of fields in order, for the flyweights. */
    static StructLayout layout(MemoryLayout... fields) {
        return MemoryLayout.structLayout(fields);
    }

    /** Offset of a named field in a layout. */
    static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }

    long offset(String field) {
        return offset(layout, field);
    }

    int size() {
        return size;
    }

    /** The struct's name in error messages. */
    String what() {
        return what;
    }

    private Field field(String name) {
        return fields.stream().filter(f -> f.name.equals(name)).findFirst().orElse(null);
    }

    /** Bytes {@link #encode} writes: the struct and the data after it. */
    long encodedSize(R value) {
        return tail == null ? size : size + ((byte[]) invoke(tail, value)).length;
    }

    /** Writes the struct and its data at offset 0 of {@code dst} (IllegalArgumentException when it is too small). */
    void encode(MemorySegment dst, R value) {
        Wire.checkDst(dst, encodedSize(value), value);
        write(dst, value, size);
        if (tail != null) {
            Wire.putBytes(dst, size, (byte[]) invoke(tail, value));
        }
    }

    /** Writes the fields that end within {@code limit} bytes, zeroing the padding there. */
    void write(MemorySegment dst, R value, long limit) {
        dst.asSlice(0, limit).fill((byte) 0);
        for (Field f : fields) {
            if (f.end() <= limit) {
                long v = ((Number) invoke(f.getter, value)).longValue();
                switch (f.layout) {
                    case ValueLayout.OfByte b -> dst.set(b, f.offset, (byte) v);
                    case ValueLayout.OfShort s -> dst.set(s, f.offset, (short) v);
                    case ValueLayout.OfInt i -> dst.set(i, f.offset, (int) v);
                    default -> dst.set((ValueLayout.OfLong) f.layout, f.offset, v);
                }
            }
        }
    }

    /** Writes {@code values} back to back from {@code offset}. */
    void encodeAll(MemorySegment dst, long offset, List<? extends R> values) {
        for (R v : values) {
            write(dst.asSlice(offset, size), v, size);
            offset += size;
        }
    }

    /**
     * Checks the payload holds the struct (EINVAL "WHAT: payload is N bytes, needs M"), and argsz if so
     * declared, then decodes; {@code rest} fills the components that are no fields.
     */
    R decode(MemorySegment p, Object... rest) throws ProtocolException {
        Wire.need(p, size, what);
        if (checksArgsz) {
            Wire.argsz(Wire.u32(p, offset("argsz")), size, what);
        }
        return read(p, size, rest);
    }

    /** Decodes without checks; fields that do not end within {@code limit} bytes read as 0. */
    R read(MemorySegment p, long limit, Object... rest) {
        Object[] args = new Object[componentFields.length];
        int next = 0;
        for (int i = 0; i < args.length; i++) {
            Field f = componentFields[i];
            if (f == null) {
                args[i] = rest[next++];
                continue;
            }
            long v = f.end() > limit ? 0 : switch (f.layout) {
                case ValueLayout.OfByte b -> Byte.toUnsignedLong(p.get(b, f.offset));
                case ValueLayout.OfShort s -> Short.toUnsignedLong(p.get(s, f.offset));
                case ValueLayout.OfInt n -> Integer.toUnsignedLong(p.get(n, f.offset));
                default -> p.get((ValueLayout.OfLong) f.layout, f.offset);
            };
            args[i] = constructor.type().parameterType(i) == int.class ? (Object) (int) v : (Object) v;
        }
        return type.cast(invoke(constructor, args));
    }

    /** Reads {@code n} structs back to back from {@code offset} (the caller checked that they are there). */
    List<R> readAll(MemorySegment p, long offset, long n) {
        List<R> out = new ArrayList<>(Math.toIntExact(n));
        for (long i = 0; i < n; i++) {
            out.add(read(p.asSlice(offset + i * size, size), size));
        }
        return out;
    }

    private static Object invoke(MethodHandle handle, Object... args) {
        try {
            return handle.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
