package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Names to ids through the name service, checked against /etc/passwd and /etc/group themselves. */
class UserDatabaseTest {

    /** The fields of NAME's line in an /etc/passwd-style file, if it has one. */
    private static Optional<String[]> entry(String file, String name) throws Exception {
        return Files.readAllLines(Path.of(file)).stream().map(l -> l.split(":", -1))
                .filter(f -> f.length > 3 && f[0].equals(name)).findFirst();
    }

    @Test
    void rootIsUidAndGidZero() throws Exception {
        assertThat(UserDatabase.user("root")).contains(new UserDatabase.User("root", 0, 0));
        assertThat(UserDatabase.group("root")).contains(new UserDatabase.Group("root", 0));
    }

    @Test
    void everySystemUserAndGroupOfTheFilesIsFoundWithItsNumbers() throws Exception {
        for (String name : new String[] {"nobody", "daemon", "bin"}) {
            Optional<String[]> line = entry("/etc/passwd", name);
            if (line.isPresent()) {
                assertThat(UserDatabase.user(name)).as(name).contains(new UserDatabase.User(name,
                        Integer.parseInt(line.get()[2]), Integer.parseInt(line.get()[3])));
            }
        }
        for (String name : new String[] {"nogroup", "daemon", "bin", "users"}) {
            Optional<String[]> line = entry("/etc/group", name);
            if (line.isPresent()) {
                assertThat(UserDatabase.group(name)).as(name).contains(new UserDatabase.Group(name, Integer.parseInt(line.get()[2])));
            }
        }
    }

    @Test
    void unknownAndMalformedNamesAreNotFound() throws Exception {
        assertThat(UserDatabase.user("no-such-user-jvfio")).isEmpty();
        assertThat(UserDatabase.group("no-such-group-jvfio")).isEmpty();
        assertThat(UserDatabase.user("")).isEmpty();
        assertThat(UserDatabase.user("ro\0ot")).isEmpty();
    }
}
