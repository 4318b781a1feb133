package org.aoemp.testing;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

/**
 * The kernel and base initramfs {@link QemuVm} boots: Debian's own {@code linux-image-6.1.0-*-amd64}
 * (the package {@code linux-image-amd64} depends on) and a busybox initramfs holding the modules and
 * binaries the VM tests need.
 *
 * <p>Built once and cached in {@code /var/tmp/aoe-vm-KVER/HASH/} ({@code vmlinuz}, {@code initrd.img}),
 * where HASH covers everything that goes into the initramfs recipe ({@link #INIT}, the module and binary
 * lists), so a changed recipe builds a new image beside the old one and later test runs reuse it. The
 * kernel .deb is kept in {@code /var/tmp/aoe-vm-KVER/}; when neither that directory nor apt's archive
 * cache has it, it is fetched with {@code apt-get download}. Several JVMs (parallel builds in other
 * worktrees) may ask at once: a file lock on {@code /var/tmp/aoe-vm-KVER/.lock} serialises the build and
 * the finished directory appears by an atomic rename. The system property {@code aoe.vm.cache} moves the
 * cache root away from {@code /var/tmp}.
 *
 * <p>The initramfs is a gzip'd cpio "newc" archive written here in Java (no {@code cpio} binary needed),
 * so that device nodes ({@code /dev/console}) and symlinks need no root and no staging directory.
 */
final class QemuVmImage
{
    /** Bump when the Java code that lays out the initramfs changes in a way the recipe hash cannot see. */
    private static final int LAYOUT_VERSION = 1;

    /** Modules {@code /init} loads, in this order; their dependencies come from the kernel's modules.dep. */
    static final List<String> MODULES = List.of("virtio_pci", "virtio_net", "crc32c_generic", "ext4", "nbd", "aoe");

    /** Host binaries copied in (with the libraries ldd names), and extra names they answer to. */
    private static final Map<String, List<String>> BINARIES = new LinkedHashMap<>();

    static
    {
        BINARIES.put("nbd-client", List.of());
        BINARIES.put("mke2fs", List.of("mkfs.ext2", "mkfs.ext3", "mkfs.ext4"));
        BINARIES.put("e2fsck", List.of("fsck.ext2", "fsck.ext3", "fsck.ext4"));
    }

    /** Where the guest finds the libraries ldd names (Debian's multiarch paths, no ld.so.cache inside). */
    private static final String LIBRARY_PATH = "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu";

    /** The test script's path inside the guest; {@link #scriptArchive} puts it there. */
    static final String SCRIPT_PATH = "/test.sh";

    /** Printed once {@code /init} has loaded the modules and configured eth0, just before the script runs. */
    static final String READY_MARKER = "@@READY@@";

    /**
     * PID 1. Markers are {@code @@NAME=value@@} so they can be found in console text that kernel messages may
     * interleave with. Addresses are set even on a tap, where they do no harm and let a test give the host side
     * 10.0.2.2 if it wants IP over the tap too.
     */
    static final String INIT = """
        #!/bin/sh
        export PATH=/usr/sbin:/usr/bin:/sbin:/bin
        export LD_LIBRARY_PATH=%LIBRARY_PATH%
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        mkdir -p /dev/pts /dev/shm /tmp /mnt /run
        exec </dev/console >/dev/console 2>&1
        for m in %MODULES%; do
            modprobe "$m" || echo "@@MODPROBE_FAILED=$m@@"
        done
        ip link set lo up
        n=0
        while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
        if [ -e /sys/class/net/eth0 ]; then
            ip link set eth0 up
            ip addr add 10.0.2.15/24 dev eth0
            ip route add default via 10.0.2.2
        else
            echo "@@NO_ETH0@@"
        fi
        echo "%READY%"
        cd /tmp
        sh %SCRIPT% </dev/null
        rc=$?
        sync
        echo "@@EXIT=$rc@@"
        poweroff -f
        """
        .replace("%LIBRARY_PATH%", LIBRARY_PATH)
        .replace("%MODULES%", String.join(" ", MODULES))
        .replace("%READY%", READY_MARKER)
        .replace("%SCRIPT%", SCRIPT_PATH);

    private static final Pattern KERNEL_DEPENDENCY = Pattern.compile("Depends:\\s*(linux-image-(6\\.1\\.0-[0-9]+-amd64))\\s*$", Pattern.MULTILINE);
    private static final Pattern LDD_PATH = Pattern.compile("(?:=>\\s*)?(/\\S+)\\s+\\(0x");
    private static final Duration COMMAND_TIMEOUT = Duration.ofMinutes(5);

    private static QemuVmImage cached;

    private final String kernelVersion;
    private final Path kernel;
    private final Path initrd;

    private QemuVmImage(final String kernelVersion, final Path kernel, final Path initrd)
    {
        this.kernelVersion = kernelVersion;
        this.kernel = kernel;
        this.initrd = initrd;
    }

    String kernelVersion()
    {
        return kernelVersion;
    }

    Path kernel()
    {
        return kernel;
    }

    Path initrd()
    {
        return initrd;
    }

    /** The image, building it on first use in this JVM (and in the cache, if no earlier run did). */
    static synchronized QemuVmImage get()
    {
        if (cached == null)
        {
            try
            {
                cached = locateOrBuild();
            }
            catch (final IOException ex)
            {
                throw new UncheckedIOException("building the VM kernel and initramfs failed", ex);
            }
        }
        return cached;
    }

    private static QemuVmImage locateOrBuild() throws IOException
    {
        final String kernelPackage = kernelPackage();
        final String kernelVersion = kernelPackage.substring("linux-image-".length());
        final Path root = Path.of(System.getProperty("aoe.vm.cache", "/var/tmp")).resolve("aoe-vm-" + kernelVersion);
        final Path dir = root.resolve(recipeHash());
        final QemuVmImage image = new QemuVmImage(kernelVersion, dir.resolve("vmlinuz"), dir.resolve("initrd.img"));
        if (Files.isRegularFile(dir.resolve("ready")))
        {
            return image;
        }
        Files.createDirectories(root);
        try (FileChannel lockFile = FileChannel.open(root.resolve(".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock ignored = lockFile.lock())
        {
            if (Files.isRegularFile(dir.resolve("ready")))
            {
                return image;
            }
            final Path deb = kernelDeb(kernelPackage, root);
            final Path scratch = Files.createTempDirectory(root, "build-");
            try
            {
                final Path tree = scratch.resolve("tree");
                final Path out = scratch.resolve("out");
                Files.createDirectories(out);
                run(scratch, "dpkg", "-x", deb.toString(), tree.toString());
                run(scratch, "depmod", "-b", tree.toString(), kernelVersion);
                Files.copy(tree.resolve("boot/vmlinuz-" + kernelVersion), out.resolve("vmlinuz"));
                writeInitramfs(tree, kernelVersion, out.resolve("initrd.img"));
                Files.writeString(out.resolve("ready"), deb.getFileName() + "\n" + INIT);
                Files.move(out, dir, StandardCopyOption.ATOMIC_MOVE);
            }
            finally
            {
                deleteTree(scratch);
            }
        }
        return image;
    }

    /** The versioned kernel package linux-image-amd64 points at, e.g. linux-image-6.1.0-56-amd64. */
    private static String kernelPackage() throws IOException
    {
        final String override = System.getProperty("aoe.vm.kernelPackage");
        if (override != null)
        {
            return override;
        }
        final String depends = run(Path.of("/"), "apt-cache", "depends", "linux-image-amd64");
        final Matcher matcher = KERNEL_DEPENDENCY.matcher(depends);
        if (!matcher.find())
        {
            throw new IOException("apt-cache depends linux-image-amd64 names no linux-image-6.1.0-*-amd64 package "
                + "(run apt-get update, or set -Daoe.vm.kernelPackage=linux-image-6.1.0-NN-amd64):\n" + depends);
        }
        return matcher.group(1);
    }

    /** The package's .deb from our cache dir, else apt's archive cache, else apt-get download into our cache dir. */
    private static Path kernelDeb(final String kernelPackage, final Path root) throws IOException
    {
        for (final Path dir : List.of(root, Path.of("/var/cache/apt/archives")))
        {
            final Path deb = findDeb(dir, kernelPackage);
            if (deb != null)
            {
                return deb;
            }
        }
        try
        {
            run(root, "apt-get", "download", kernelPackage);
        }
        catch (final IOException ex)
        {
            throw new IOException("the VM needs Debian's kernel package " + kernelPackage + " and 'apt-get download "
                + kernelPackage + "' in " + root + " failed (is the Debian mirror reachable? apt-get update?)", ex);
        }
        final Path deb = findDeb(root, kernelPackage);
        if (deb == null)
        {
            throw new IOException("apt-get download " + kernelPackage + " succeeded but left no " + kernelPackage + "_*.deb in " + root);
        }
        return deb;
    }

    private static Path findDeb(final Path dir, final String kernelPackage) throws IOException
    {
        if (!Files.isDirectory(dir))
        {
            return null;
        }
        try (Stream<Path> files = Files.list(dir))
        {
            return files
                .filter(p -> p.getFileName().toString().startsWith(kernelPackage + "_") && p.getFileName().toString().endsWith(".deb"))
                .max(Comparator.naturalOrder())
                .orElse(null);
        }
    }

    private static String recipeHash()
    {
        try
        {
            final MessageDigest digest = MessageDigest.getInstance("SHA-256");
            digest.update(Integer.toString(LAYOUT_VERSION).getBytes(StandardCharsets.UTF_8));
            digest.update(INIT.getBytes(StandardCharsets.UTF_8));
            digest.update(String.join(",", MODULES).getBytes(StandardCharsets.UTF_8));
            digest.update(BINARIES.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest.digest(), 0, 6);
        }
        catch (final NoSuchAlgorithmException ex)
        {
            throw new IllegalStateException(ex);
        }
    }

    private static void writeInitramfs(final Path tree, final String kernelVersion, final Path target) throws IOException
    {
        final Cpio cpio = new Cpio();
        for (final String dir : List.of("/proc", "/sys", "/dev", "/tmp", "/mnt", "/run", "/root", "/etc"))
        {
            cpio.directory(dir);
        }
        cpio.charDevice("/dev/console", 0600, 5, 1);

        // busybox first, so the real binaries below replace its applets of the same name
        final Path busybox = Path.of("/bin/busybox");
        cpio.file("/bin/busybox", 0755, busybox);
        final Set<String> realNames = new LinkedHashSet<>();
        BINARIES.forEach((name, aliases) ->
        {
            realNames.add(name);
            realNames.addAll(aliases);
        });
        for (final String applet : run(Path.of("/"), busybox.toString(), "--list-full").split("\n"))
        {
            final String path = "/" + applet.strip();
            final String name = path.substring(path.lastIndexOf('/') + 1);
            // a link named busybox pointing at itself makes exec fail with ELOOP (-40)
            if (!name.isEmpty() && !name.equals("busybox") && !realNames.contains(name))
            {
                cpio.symlink(path, "/bin/busybox");
            }
        }
        final Set<Path> libraries = new LinkedHashSet<>();
        libraries.addAll(libraries(busybox));
        for (final Map.Entry<String, List<String>> binary : BINARIES.entrySet())
        {
            final Path path = Prerequisites.which(binary.getKey());
            if (path == null)
            {
                throw new IOException("binary " + binary.getKey() + " not found on the host");
            }
            final String inGuest = "/usr/sbin/" + binary.getKey();
            cpio.file(inGuest, 0755, path);
            for (final String alias : binary.getValue())
            {
                cpio.symlink("/usr/sbin/" + alias, binary.getKey());
            }
            libraries.addAll(libraries(path));
        }
        for (final Path library : libraries)
        {
            cpio.file(library.toString(), 0755, library.toRealPath());
        }
        if (Files.isRegularFile(Path.of("/etc/mke2fs.conf")))
        {
            cpio.file("/etc/mke2fs.conf", 0644, Path.of("/etc/mke2fs.conf"));
        }

        final Path modules = tree.resolve("lib/modules/" + kernelVersion);
        final Map<String, List<String>> dependencies = modulesDep(modules.resolve("modules.dep"));
        final Map<String, String> byName = new TreeMap<>();
        dependencies.keySet().forEach(path -> byName.put(moduleName(path), path));
        final Set<String> needed = new LinkedHashSet<>();
        for (final String module : MODULES)
        {
            final String path = byName.get(module);
            if (path == null)
            {
                throw new IOException("kernel " + kernelVersion + " has no module " + module);
            }
            needed.add(path);
            needed.addAll(dependencies.get(path));
        }
        final StringBuilder modulesDep = new StringBuilder();
        for (final String path : needed)
        {
            cpio.file("/lib/modules/" + kernelVersion + "/" + path, 0644, modules.resolve(path));
            modulesDep.append(path).append(':');
            dependencies.get(path).forEach(dep -> modulesDep.append(' ').append(dep));
            modulesDep.append('\n');
        }
        cpio.file("/lib/modules/" + kernelVersion + "/modules.dep", 0644, modulesDep.toString().getBytes(StandardCharsets.US_ASCII));
        cpio.file("/lib/modules/" + kernelVersion + "/modules.builtin", 0644, Files.readAllBytes(modules.resolve("modules.builtin")));
        cpio.file("/init", 0755, INIT.getBytes(StandardCharsets.US_ASCII));

        try (OutputStream out = new GZIPOutputStream(new BufferedOutputStream(Files.newOutputStream(target)), 1 << 16))
        {
            cpio.writeTo(out);
        }
    }

    /** A small gzip'd cpio holding the test script at {@link #SCRIPT_PATH}, to append to the base initramfs. */
    static byte[] scriptArchive(final String script) throws IOException
    {
        final Cpio cpio = new Cpio();
        cpio.file(SCRIPT_PATH, 0755, script.getBytes(StandardCharsets.UTF_8));
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream out = new GZIPOutputStream(bytes))
        {
            cpio.writeTo(out);
        }
        return bytes.toByteArray();
    }

    /** modules.dep as module path → its dependencies (all paths relative to lib/modules/KVER). */
    private static Map<String, List<String>> modulesDep(final Path file) throws IOException
    {
        final Map<String, List<String>> dependencies = new LinkedHashMap<>();
        for (final String line : Files.readAllLines(file))
        {
            final int colon = line.indexOf(':');
            if (colon < 0)
            {
                continue;
            }
            final String rest = line.substring(colon + 1).strip();
            dependencies.put(line.substring(0, colon), rest.isEmpty() ? List.of() : List.of(rest.split("\\s+")));
        }
        return dependencies;
    }

    private static String moduleName(final String path)
    {
        final String file = path.substring(path.lastIndexOf('/') + 1);
        return file.substring(0, file.indexOf(".ko")).replace('-', '_');
    }

    /** Every library (and the dynamic loader) ldd lists for a binary; none for a static one. */
    private static List<Path> libraries(final Path binary) throws IOException
    {
        final Process process = new ProcessBuilder("ldd", binary.toString()).redirectErrorStream(true).start();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        final List<Path> libraries = new ArrayList<>();
        final Matcher matcher = LDD_PATH.matcher(output);
        while (matcher.find())
        {
            libraries.add(Path.of(matcher.group(1)));
        }
        return libraries;
    }

    /** Runs a command to completion; its output, or an IOException carrying the output on failure. */
    static String run(final Path dir, final String... command) throws IOException
    {
        final Process process = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        process.getOutputStream().close();
        final String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try
        {
            if (!process.waitFor(COMMAND_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS))
            {
                process.destroyForcibly();
                throw new IOException(String.join(" ", command) + " timed out");
            }
        }
        catch (final InterruptedException ex)
        {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted: " + String.join(" ", command), ex);
        }
        if (process.exitValue() != 0)
        {
            throw new IOException(String.join(" ", command) + " exited with " + process.exitValue() + ":\n" + output);
        }
        return output;
    }

    static void deleteTree(final Path root) throws IOException
    {
        if (!Files.exists(root))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(root))
        {
            for (final Path path : paths.sorted(Comparator.reverseOrder()).toList())
            {
                Files.delete(path);
            }
        }
    }

    /**
     * A cpio "newc" archive (the format the kernel unpacks into its initramfs) built in memory: entries keyed
     * by absolute path, parents created on demand, later entries replacing earlier ones of the same path.
     */
    static final class Cpio
    {
        private static final int S_IFMT = 0170000;
        private static final int S_IFDIR = 0040000;
        private static final int S_IFREG = 0100000;
        private static final int S_IFLNK = 0120000;
        private static final int S_IFCHR = 0020000;

        private record Entry(int mode, int rdevMajor, int rdevMinor, Object data)
        {
        }

        private final Map<String, Entry> entries = new TreeMap<>();

        void directory(final String path)
        {
            parents(path);
            entries.putIfAbsent(path, new Entry(S_IFDIR | 0755, 0, 0, new byte[0]));
        }

        void file(final String path, final int permissions, final Path source)
        {
            parents(path);
            entries.put(path, new Entry(S_IFREG | permissions, 0, 0, source));
        }

        void file(final String path, final int permissions, final byte[] content)
        {
            parents(path);
            entries.put(path, new Entry(S_IFREG | permissions, 0, 0, content));
        }

        void symlink(final String path, final String target)
        {
            parents(path);
            entries.put(path, new Entry(S_IFLNK | 0777, 0, 0, target.getBytes(StandardCharsets.UTF_8)));
        }

        void charDevice(final String path, final int permissions, final int major, final int minor)
        {
            parents(path);
            entries.put(path, new Entry(S_IFCHR | permissions, major, minor, new byte[0]));
        }

        private void parents(final String path)
        {
            final int slash = path.lastIndexOf('/');
            if (slash > 0)
            {
                directory(path.substring(0, slash));
            }
        }

        /** Writes the entries (a TreeMap, so every directory precedes its contents) and the trailer. */
        void writeTo(final OutputStream out) throws IOException
        {
            int inode = 1;
            for (final Map.Entry<String, Entry> e : entries.entrySet())
            {
                final Entry entry = e.getValue();
                final byte[] data = entry.data() instanceof Path source ? Files.readAllBytes(source) : (byte[])entry.data();
                writeEntry(out, e.getKey().substring(1), inode++, entry.mode(), entry.rdevMajor(), entry.rdevMinor(), data);
            }
            writeEntry(out, "TRAILER!!!", 0, 0, 0, 0, new byte[0]);
        }

        private static void writeEntry(
            final OutputStream out, final String name, final int inode, final int mode, final int rdevMajor, final int rdevMinor, final byte[] data)
            throws IOException
        {
            final byte[] nameBytes = (name + "\0").getBytes(StandardCharsets.UTF_8);
            final int nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1;
            final String header = String.format(
                "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
                inode, mode, 0, 0, nlink, 0, data.length, 0, 0, rdevMajor, rdevMinor, nameBytes.length, 0);
            out.write(header.getBytes(StandardCharsets.US_ASCII));
            out.write(nameBytes);
            pad(out, header.length() + nameBytes.length);
            out.write(data);
            pad(out, data.length);
        }

        private static void pad(final OutputStream out, final int length) throws IOException
        {
            for (int i = length; (i & 3) != 0; i++)
            {
                out.write(0);
            }
        }
    }
}
