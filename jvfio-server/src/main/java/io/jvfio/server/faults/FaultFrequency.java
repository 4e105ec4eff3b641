package io.jvfio.server.faults;

/** Which of a rule's matches fire it. */
public sealed interface FaultFrequency {
    /** Every {@code n}-th match: the n-th, the 2n-th, … ({@code 1}: every match). */
    record EveryNth(long n) implements FaultFrequency {
        public EveryNth {
            if (n < 1) {
                throw new IllegalArgumentException("every n-th needs n >= 1, not " + n);
            }
        }
    }

    /**
     * Each match fires with {@code probability}, drawn from a generator seeded with {@code seed}:
     * the same seed and the same sequence of matches fire the same ones, run after run.
     */
    record Probability(double probability, long seed) implements FaultFrequency {
        public Probability {
            if (!(probability >= 0 && probability <= 1)) {
                throw new IllegalArgumentException("probability must be in [0, 1], not " + probability);
            }
        }
    }

    static FaultFrequency always() {
        return new EveryNth(1);
    }
}
